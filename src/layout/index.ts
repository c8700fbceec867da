// Projections: the type and its validation, the pure address mapping, and
// the projection stores. Pure parts (projection, mapping) do no I/O.

export { canonicalJson, parseProjection, projectionProblems, projectionShape, projectionsEqual } from './projection.js';
export type { Projection, Segment, Stripe } from './projection.js';
export { chainFor, headOf, locate, segmentContains, segmentIndexOf, stripeAddresses, tailOf } from './mapping.js';
export type { Location } from './mapping.js';
export type { ProjectionStore, ProposeResult } from './store.js';
export { FileProjectionStore, epochFileName, epochOfFileName, openProjectionStore } from './file-store.js';
