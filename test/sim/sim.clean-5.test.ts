// Seeds 8001..10000 of the clean campaign (clean-seeds.ts): one of five files of
// 2,000 seeds, so vitest can spread the 10,000 over its workers evenly.

import { cleanSeeds } from './clean-seeds.js';

cleanSeeds(8001, 2000);
