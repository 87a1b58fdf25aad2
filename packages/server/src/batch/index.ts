/**
 * The batch formats shared by receivers, queues and stores: events in columns, and the packed
 * form in which a batch crosses a thread (or process) boundary. It belongs to no one component:
 * ingest packs, stores unpack.
 */
export type { EventColumns, PackedEvents } from './columns.js';
export { concatPacked, detached, fromColumns, isPacked, packEvents, unpackEvents, unpackToColumns } from './columns.js';
export type { IdentifiedBatch } from './identified.js';
export { IdClock, idAt, packedBatch, without } from './identified.js';
