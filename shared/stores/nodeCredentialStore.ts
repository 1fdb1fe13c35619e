import type { TableClient } from '@azure/data-tables';
import { storageCall } from './storageCall';
import { statusOf } from './tableErrors';

/** Which key version of a node is current. No key is stored: keys are derived from the master key and the version. */
export interface NodeCredential {
  clusterId: string;
  nodeId: string;
  keyVersion: number;
  issuedAt: number;
}

const PARTITION = 'node-credential';

export class NodeCredentialStore {
  constructor(private readonly table: TableClient) {}

  /**
   * Records the issue of `keyVersion`: version 1 only if none was issued, a later version only on top of the one
   * before it. `false` means another issue won the race (or the key was already issued).
   */
  async issue(credential: NodeCredential, previousEtag: string | undefined): Promise<boolean> {
    const entity = {
      partitionKey: PARTITION,
      rowKey: `${credential.clusterId}~${credential.nodeId}`,
      KeyVersion: credential.keyVersion,
      IssuedAt: new Date(credential.issuedAt),
    };
    try {
      await storageCall(`credential of ${credential.clusterId}/${credential.nodeId}`, () =>
        previousEtag
          ? this.table.updateEntity(entity, 'Replace', { etag: previousEtag })
          : this.table.createEntity(entity),
      );
      return true;
    } catch (error) {
      if (statusOf(error) === 409 || statusOf(error) === 412) return false;
      throw error;
    }
  }

  async get(
    clusterId: string,
    nodeId: string,
  ): Promise<{ credential: NodeCredential; etag: string } | undefined> {
    try {
      const e = await storageCall(`credential of ${clusterId}/${nodeId}`, () =>
        this.table.getEntity<{ KeyVersion: number; IssuedAt: Date }>(PARTITION, `${clusterId}~${nodeId}`),
      );
      return {
        credential: { clusterId, nodeId, keyVersion: e.KeyVersion, issuedAt: e.IssuedAt.getTime() },
        etag: e.etag,
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }
}
