// Seeds 5001..10000 of the clean campaign (clean-seeds.ts); sim.clean-a has 1..5000.

import { cleanSeeds } from './clean-seeds.js';

cleanSeeds(5001, 5000);
