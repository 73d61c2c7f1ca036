// Identity = mTLS CN (spec §5.1). The CA issues `agent-<machineId>` (optionally `.<suffix>`); hosts
// enrolled by the original may still present a bare `<machineId>` CN. Routes compare machine ids,
// never raw CNs, so both forms name the same host.

const AGENT_PREFIX = 'agent-';

/**
 * The machine id a CN stands for. With a suffix configured, only a CN that has both the `agent-`
 * prefix and the `.<suffix>` ending is reduced (the original's `extract_machine_id`); without one,
 * the `agent-` prefix alone is removed. Anything else is a legacy bare id, used unchanged.
 */
export function machineIdFromCn(cn: string, suffix?: string): string {
  if (!cn.startsWith(AGENT_PREFIX)) return cn;
  if (suffix === undefined || suffix === '') return cn.slice(AGENT_PREFIX.length) || cn;
  const ending = `.${suffix}`;
  if (!cn.endsWith(ending) || cn.length <= AGENT_PREFIX.length + ending.length) return cn;
  return cn.slice(AGENT_PREFIX.length, cn.length - ending.length);
}

/** The CN the CA writes into an agent certificate; `machineIdFromCn(agentCn(id, s), s) === id`. */
export function agentCn(machineId: string, suffix?: string): string {
  return `${AGENT_PREFIX}${machineId}${suffix === undefined || suffix === '' ? '' : `.${suffix}`}`;
}

/**
 * Whether a CSR's CN names `machineId`: the bare id or its canonical agent CN. Compared by
 * construction rather than by reduction, so a host literally named `agent-x` is not taken for `x`.
 */
export function cnNamesMachine(cn: string, machineId: string, suffix?: string): boolean {
  return cn === machineId || cn === agentCn(machineId, suffix);
}
