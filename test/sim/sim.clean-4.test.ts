// Seeds 3,001..4,000 of the clean campaign (clean-seeds.ts): one of four files, so
// vitest spreads a run's 4,000 seeds over its workers evenly.

import { ONCE_FOUND, cleanSeedList, cleanSeeds } from './clean-seeds.js';

cleanSeeds(3001, 1000);
cleanSeedList(ONCE_FOUND);
