// Seeds 1..5000 of the clean campaign (clean-seeds.ts); sim.clean-b has 5001..10000.

import { cleanSeeds } from './clean-seeds.js';

cleanSeeds(1, 5000);
