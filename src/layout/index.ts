// Projections: the type and its validation, the pure address mapping, and
// the projection stores. Pure parts (projection, mapping, store-url) do no I/O.
// The etcd store is exported as a type only: openProjectionStore loads it
// (and gRPC) on the first etcd:// URL.

export { canonicalJson, parseProjection, projectionProblems, projectionShape, projectionsEqual } from './projection.js';
export type { Projection, Segment, Stripe } from './projection.js';
export { chainFor, headOf, locate, segmentContains, segmentIndexOf, stripeAddresses, tailOf, wholeReplicas } from './mapping.js';
export type { Location } from './mapping.js';
export type { ProjectionStore, ProposeResult, WatchErrorHandler } from './store.js';
export { DEFAULT_POLL_MS, FileProjectionStore, epochFileName, epochOfFileName } from './file-store.js';
export type { FileStoreOptions } from './file-store.js';
export type { EtcdProjectionStore, EtcdStoreOptions } from './etcd-store.js';
export { openProjectionStore } from './open.js';
export type { OpenStoreOptions } from './open.js';
export { STORE_URL_FORMS, parseStoreUrl } from './store-url.js';
export type { StoreLocation } from './store-url.js';
