// Seeds 1..1,000 of the clean campaign (clean-seeds.ts): one of four files, so
// vitest spreads a run's 4,000 seeds over its workers evenly.

import { cleanSeeds } from './clean-seeds.js';

cleanSeeds(1, 1000);
