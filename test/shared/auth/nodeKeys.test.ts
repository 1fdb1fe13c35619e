import { createHmac } from 'node:crypto';
import { deriveNodeKey } from '../../../shared/auth/nodeKeys';

const master = Buffer.alloc(32, 7);

/** RFC 5869 HKDF-SHA256 for one output block, written out to pin the salt and info agents must use. */
function hkdfOneBlock(ikm: Buffer, salt: string, info: string): Buffer {
  const prk = createHmac('sha256', salt).update(ikm).digest();
  return createHmac('sha256', prk)
    .update(Buffer.concat([Buffer.from(info), Buffer.from([1])]))
    .digest();
}

describe('deriveNodeKey', () => {
  it('is HKDF-SHA256 with salt failover-plane/node-key/v<version> and info <cluster>/<node>, 32 bytes', () => {
    const key = deriveNodeKey(master, 'cluster-a', 'node-1', 3);
    expect(key).toHaveLength(32);
    expect(key.equals(hkdfOneBlock(master, 'failover-plane/node-key/v3', 'cluster-a/node-1'))).toBe(true);
  });

  it('derives the same key every time for the same inputs', () => {
    expect(deriveNodeKey(master, 'c1', 'n1', 1).equals(deriveNodeKey(master, 'c1', 'n1', 1))).toBe(true);
  });

  it('derives a different key per node, per cluster, per key version and per master key', () => {
    const keys = [
      deriveNodeKey(master, 'c1', 'n1', 1),
      deriveNodeKey(master, 'c1', 'n2', 1),
      deriveNodeKey(master, 'c2', 'n1', 1),
      deriveNodeKey(master, 'c1', 'n1', 2),
      deriveNodeKey(Buffer.alloc(32, 8), 'c1', 'n1', 1),
    ];
    expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(keys.length);
  });

  it('refuses a master key shorter than 32 bytes', () => {
    expect(() => deriveNodeKey(Buffer.alloc(31, 1), 'c1', 'n1', 1)).toThrow(/at least 32 bytes/);
    expect(() => deriveNodeKey(Buffer.alloc(0), 'c1', 'n1', 1)).toThrow(RangeError);
  });

  it('refuses a key version that is not a positive integer', () => {
    for (const version of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => deriveNodeKey(master, 'c1', 'n1', version)).toThrow(/keyVersion/);
    }
  });

  it('refuses ids that could make two (cluster, node) pairs share a key', () => {
    // "a/b" + "c" and "a" + "b/c" would both give the info "a/b/c".
    expect(() => deriveNodeKey(master, 'a/b', 'c', 1)).toThrow(/clusterId/);
    expect(() => deriveNodeKey(master, 'a', 'b/c', 1)).toThrow(/nodeId/);
    expect(() => deriveNodeKey(master, '', 'n1', 1)).toThrow(/clusterId/);
  });
});
