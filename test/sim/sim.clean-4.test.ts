// Seeds 3,751..5,000 of the clean campaign (clean-seeds.ts): one of four files, so
// vitest spreads a run's 5,000 seeds over its workers evenly.

import { ONCE_FOUND, cleanSeedList, cleanSeeds } from './clean-seeds.js';

cleanSeeds(3751, 1250);
cleanSeedList(ONCE_FOUND);
