/**
 * Whether a command acknowledgement counts for what an operation waits on: the acknowledgement of the same command
 * (id), by the node it was sent to, under the epoch it was sent under. An acknowledgement for another epoch or node
 * never counts, whatever its command id: a late one from a previous epoch, or one of a node that was replaced, must
 * not complete a step of the current operation. Duplicates count like the first (the caller keeps the first).
 */
export function ackCounts(
  ack: { nodeId: string; epoch: number; commandId: string },
  expected: { nodeId: string; epoch: number; commandId: string },
): boolean {
  return (
    ack.nodeId === expected.nodeId && ack.epoch === expected.epoch && ack.commandId === expected.commandId
  );
}
