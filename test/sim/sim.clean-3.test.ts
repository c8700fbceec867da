// Seeds 2,501..3,750 of the clean campaign (clean-seeds.ts): one of four files, so
// vitest spreads a run's 5,000 seeds over its workers evenly.

import { cleanSeeds } from './clean-seeds.js';

cleanSeeds(2501, 1250);
