// XState's `transition()` hands back the actions it would execute. Effects are the `xstate.emit`
// ones; anything that needs a live actor system is forbidden in the shared charts.
const FORBIDDEN = new Set(['xstate.sendTo', 'xstate.sendParent', 'xstate.spawnChild', 'xstate.raise']);

export function emittedEffects<E>(actions: readonly unknown[]): E[] {
  const effects: E[] = [];
  for (const action of actions as { type: string; params?: { event?: unknown } }[]) {
    if (action.type === 'xstate.emit') {
      effects.push(action.params?.event as E);
    } else if (FORBIDDEN.has(action.type)) {
      throw new Error(`a shared chart produced ${action.type}; charts may only assign and emit`);
    }
  }
  return effects;
}
