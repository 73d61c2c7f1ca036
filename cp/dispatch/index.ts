// Public door of the CP's dispatch queue: enqueue (for the planner), the long-poll take, wake-ups.
export * from './dispatcher.ts';
export * from './dispatchWakeups.ts';
export * from './enqueueDispatch.ts';
