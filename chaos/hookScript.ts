/**
 * The chaos fleet's hook: one JSON line per step run appended to the hook log (`{cluster, node, commandId,
 * operation, step, epoch}`: the side effect the checker reads), then, while the harness has set them for this node,
 * a slow step (`<node>.slow` holds the seconds) or a failing one (`<node>.fail` exists).
 * $1: the hook log; $2: the directory of the harness's control files.
 */
export const CHAOS_HOOK_SCRIPT = [
  '#!/bin/sh',
  'printf \'{"cluster":"%s","node":"%s","commandId":"%s","operation":"%s","step":"%s","epoch":%s}\\n\' \\',
  '  "$FP_CLUSTER" "$FP_NODE" "$FP_OPERATION_ID" "$FP_OPERATION" "$FP_STEP" "$FP_EPOCH" >> "$1"',
  'f="$2/$FP_CLUSTER-$FP_NODE"',
  'if [ -f "$f.slow" ]; then sleep "$(cat "$f.slow")"; fi',
  'if [ -f "$f.fail" ]; then echo "chaos: this step fails" >&2; exit 1; fi',
  'exit 0',
  '',
].join('\n');
