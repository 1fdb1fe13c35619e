import { hkdfSync } from 'node:crypto';
import { assertId, isPositiveSafeInteger } from './ids';

/** Node keys are HMAC-SHA256 keys: 32 bytes. */
export const NODE_KEY_BYTES = 32;
/** The master key must carry at least as much entropy as the keys derived from it. */
export const MIN_MASTER_KEY_BYTES = 32;

/**
 * Derives the request-signing key of one node for one key version: HKDF-SHA256 over the master key, with salt
 * `failover-plane/node-key/v<keyVersion>` and info `<clusterId>/<nodeId>`. Deterministic, so the control plane keeps
 * only the master key; distinct for every (cluster, node, version), so a leaked node key speaks for that node only,
 * and rotating is raising the version.
 */
export function deriveNodeKey(
  masterKey: Buffer,
  clusterId: string,
  nodeId: string,
  keyVersion: number,
): Buffer {
  if (!Buffer.isBuffer(masterKey) || masterKey.length < MIN_MASTER_KEY_BYTES) {
    throw new RangeError(`the master key must be at least ${MIN_MASTER_KEY_BYTES} bytes`);
  }
  assertId(clusterId, 'clusterId');
  assertId(nodeId, 'nodeId');
  if (!isPositiveSafeInteger(keyVersion)) throw new RangeError('keyVersion must be a positive integer');
  return Buffer.from(
    hkdfSync(
      'sha256',
      masterKey,
      Buffer.from(`failover-plane/node-key/v${keyVersion}`, 'utf8'),
      Buffer.from(`${clusterId}/${nodeId}`, 'utf8'),
      NODE_KEY_BYTES,
    ),
  );
}

/**
 * Derives the cluster's peer key: HKDF-SHA256 over the master key, salt `failover-plane/peer-key/v1`, info
 * `<clusterId>`. Every node of the cluster holds it (issued with its node key); agents sign their peer requests
 * (promises) with it, so a node outside the cluster cannot bind one inside it.
 */
export function derivePeerKey(masterKey: Buffer, clusterId: string): Buffer {
  if (!Buffer.isBuffer(masterKey) || masterKey.length < MIN_MASTER_KEY_BYTES) {
    throw new RangeError(`the master key must be at least ${MIN_MASTER_KEY_BYTES} bytes`);
  }
  assertId(clusterId, 'clusterId');
  return Buffer.from(
    hkdfSync(
      'sha256',
      masterKey,
      Buffer.from('failover-plane/peer-key/v1', 'utf8'),
      Buffer.from(clusterId, 'utf8'),
      NODE_KEY_BYTES,
    ),
  );
}
