// The agent's outbound door: the durable event queue, its drainer and the HTTP sender
// (spec §6.10, §2.4, §10 G4/G5/G13).
export { type BackoffOptions, backoffDelayMs } from './backoff.ts';
export {
  classifyResponse,
  type Delivery,
  type OutboundSend,
  parseRetryAfter,
  type SendResult,
} from './delivery.ts';
export { deliveryOrder, type Orderable } from './deliveryOrder.ts';
export {
  createOutboundDrainer,
  type OutboundDrainer,
  type OutboundDrainerOptions,
  type OutboundDrainerState,
} from './drainer.ts';
export { createEventSender, type EventSenderOptions, type EventSenderTls } from './eventSender.ts';
export {
  type ArchivedEvent,
  type CreateOutboundQueueResult,
  createOutboundQueue,
  type DrainReport,
  type EnqueueResult,
  type OutboundLogger,
  OutboundQueue,
  type OutboundQueueError,
  type OutboundQueueOptions,
  type PendingEvent,
  type ReplayReport,
  silentLogger,
} from './outboundQueue.ts';
export { DEAD_DIR, OUTBOUND_DIR, queueFileName, SENT_DIR, safeNamePart } from './queueFiles.ts';
