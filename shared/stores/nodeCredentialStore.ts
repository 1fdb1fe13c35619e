import type { TableClient } from '@azure/data-tables';
import { storageCall } from './storageCall';
import { filterId, statusOf } from './tableErrors';

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

  /**
   * Retires a node's key (cluster deletion): the live row goes, and a `retired~` row keeps the highest version ever
   * issued. Keys are derived from the master key and the version, so a re-declared cluster of the same name must
   * never issue a retired version again (`firstVersion`). Returns the version retired (undefined: none was issued).
   */
  async retire(clusterId: string, nodeId: string, at: number): Promise<number | undefined> {
    const live = await this.get(clusterId, nodeId);
    if (!live) return undefined;
    const version = Math.max(live.credential.keyVersion, (await this.retiredVersion(clusterId, nodeId)) ?? 0);
    await storageCall(`credential of ${clusterId}/${nodeId}`, () =>
      this.table.upsertEntity(
        {
          partitionKey: PARTITION,
          rowKey: `${RETIRED}${clusterId}~${nodeId}`,
          KeyVersion: version,
          RetiredAt: new Date(at),
        },
        'Replace',
      ),
    );
    try {
      await storageCall(`credential of ${clusterId}/${nodeId}`, () =>
        this.table.deleteEntity(PARTITION, `${clusterId}~${nodeId}`, { etag: live.etag }),
      );
    } catch (error) {
      // 404: already gone; 412: re-issued meanwhile (the caller refuses deletion while it runs; retried as a whole).
      if (statusOf(error) !== 404) throw error;
    }
    return version;
  }

  /** The nodes of a cluster holding an issued key, including nodes since removed from its document. */
  async nodesWithKeys(clusterId: string): Promise<string[]> {
    const filter = `PartitionKey eq '${PARTITION}' and RowKey ge '${filterId(clusterId)}~' and RowKey lt '${clusterId}~~'`;
    return storageCall(`credentials of ${clusterId}`, async () => {
      const out: string[] = [];
      const rows = this.table.listEntities<{ rowKey: string }>({
        queryOptions: { filter, select: ['RowKey'] },
      });
      for await (const row of rows) out.push(row.rowKey.slice(clusterId.length + 1));
      return out;
    });
  }

  /** The highest key version retired for the node by a cluster deletion (undefined: none). */
  async retiredVersion(clusterId: string, nodeId: string): Promise<number | undefined> {
    try {
      const e = await storageCall(`credential of ${clusterId}/${nodeId}`, () =>
        this.table.getEntity<{ KeyVersion: number }>(PARTITION, `${RETIRED}${clusterId}~${nodeId}`),
      );
      return e.KeyVersion;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * The version of a node's first key when none is live: 1, or after a deletion two above the retired one (the
   * agent path accepts the current version and the one before it, so the retired key must not be "the one before").
   */
  async firstVersion(clusterId: string, nodeId: string): Promise<number> {
    const retired = await this.retiredVersion(clusterId, nodeId);
    return retired === undefined ? 1 : retired + 2;
  }
}

const RETIRED = 'retired~';
