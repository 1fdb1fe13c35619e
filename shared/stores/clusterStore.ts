import type { TableClient } from '@azure/data-tables';
import type { ClusterDocument } from '../domain/clusterDocument';
import { detectionView, type ClusterState, type DetectionView } from '../domain/clusterState';

export type { DetectionView } from '../domain/clusterState';
import { readText, storedJson, textProperties } from './largeText';
import { storageCall } from './storageCall';
import { statusOf } from './tableErrors';

export interface StoredDocument {
  document: ClusterDocument;
  etag: string;
  updatedAt: number;
}

export interface StoredState {
  state: ClusterState;
  etag: string;
}

export type StateWrite = { ok: true; etag: string } | { ok: false; reason: 'conflict' };

const PARTITION = 'cluster';

const stateEntity = (state: ClusterState) => ({
  partitionKey: state.clusterId,
  rowKey: 'state',
  ...textProperties('State', storedJson(state)),
  DetectionView: JSON.stringify(detectionView(state)),
});

/**
 * Cluster documents (one row each) and the cluster-state entity (one row per cluster, every change conditional on
 * its ETag). 412 and 409 become outcomes here, so callers decide on them instead of catching.
 */
export class ClusterStore {
  constructor(
    private readonly documents: TableClient,
    private readonly states: TableClient,
  ) {}

  /**
   * Writes a document conditionally: without `etag` only if no document exists (insert), with `etag` only if the
   * stored one still has it (If-Match). A lost race is the outcome `conflict`, never a silent overwrite.
   */
  async writeDocument(document: ClusterDocument, now: number, etag: string | undefined): Promise<StateWrite> {
    const entity = {
      partitionKey: PARTITION,
      rowKey: document.id,
      ...textProperties('Document', storedJson(document)),
      UpdatedAt: new Date(now),
    };
    try {
      const response = await storageCall(`cluster ${document.id}`, () =>
        etag ? this.documents.updateEntity(entity, 'Replace', { etag }) : this.documents.createEntity(entity),
      );
      return { ok: true, etag: response.etag ?? '' };
    } catch (error) {
      const status = statusOf(error);
      if (status === 409 || status === 412 || status === 404) return { ok: false, reason: 'conflict' };
      throw error;
    }
  }

  async getDocument(clusterId: string): Promise<StoredDocument | undefined> {
    try {
      const e = await storageCall(`cluster ${clusterId}`, () =>
        this.documents.getEntity<{ Document: string; UpdatedAt: Date }>(PARTITION, clusterId),
      );
      return {
        document: JSON.parse(readText(e, 'Document')) as ClusterDocument,
        etag: e.etag,
        updatedAt: e.UpdatedAt.getTime(),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async listDocuments(): Promise<StoredDocument[]> {
    return storageCall('the cluster list', async () => {
      const out: StoredDocument[] = [];
      const rows = this.documents.listEntities<{ Document: string; UpdatedAt: Date }>({
        queryOptions: { filter: `PartitionKey eq '${PARTITION}'` },
      });
      for await (const e of rows)
        out.push({
          document: JSON.parse(readText(e, 'Document')) as ClusterDocument,
          etag: e.etag,
          updatedAt: e.UpdatedAt.getTime(),
        });
      return out;
    });
  }

  async getState(clusterId: string): Promise<StoredState | undefined> {
    try {
      const e = await storageCall(`state of ${clusterId}`, () =>
        this.states.getEntity<{ State: string }>(clusterId, 'state'),
      );
      return { state: JSON.parse(readText(e, 'State')) as ClusterState, etag: e.etag };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * The detection view of every cluster's state: one query over the whole state table selecting only the keys and
   * the small `DetectionView` property (one request per 1,000 clusters: the service's page size). A state written
   * before the view existed comes back with `view` undefined (the caller reads it in full).
   */
  async listDetectionViews(): Promise<{ clusterId: string; view: DetectionView | undefined }[]> {
    return storageCall('the cluster states', async () => {
      const out: { clusterId: string; view: DetectionView | undefined }[] = [];
      const rows = this.states.listEntities<{ DetectionView?: string }>({
        queryOptions: { filter: `RowKey eq 'state'`, select: ['PartitionKey', 'RowKey', 'DetectionView'] },
      });
      for await (const e of rows)
        out.push({
          clusterId: e.partitionKey ?? '',
          view:
            typeof e.DetectionView === 'string' ? (JSON.parse(e.DetectionView) as DetectionView) : undefined,
        });
      return out;
    });
  }

  /** Creates the state of a new cluster; if it already exists (409) the existing one is returned unchanged. */
  async createState(state: ClusterState): Promise<StoredState> {
    try {
      const response = await storageCall(`state of ${state.clusterId}`, () =>
        this.states.createEntity(stateEntity(state)),
      );
      return { state, etag: response.etag ?? '' };
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      const existing = await this.getState(state.clusterId);
      if (!existing) throw error;
      return existing;
    }
  }

  /** Replaces the state if it still has `etag`; a 412 is the outcome `conflict` (someone changed it first). */
  async replaceState(state: ClusterState, etag: string): Promise<StateWrite> {
    try {
      const response = await storageCall(`state of ${state.clusterId}`, () =>
        this.states.updateEntity(stateEntity(state), 'Replace', { etag }),
      );
      return { ok: true, etag: response.etag ?? '' };
    } catch (error) {
      if (statusOf(error) === 412 || statusOf(error) === 404) return { ok: false, reason: 'conflict' };
      throw error;
    }
  }

  /** Deletes the cluster's document (cluster deletion); false when there was none. */
  async deleteDocument(clusterId: string): Promise<boolean> {
    return deleteRow(`cluster ${clusterId}`, () => this.documents.deleteEntity(PARTITION, clusterId));
  }

  /** Deletes the cluster's state (cluster deletion); false when there was none. */
  async deleteState(clusterId: string): Promise<boolean> {
    return deleteRow(`state of ${clusterId}`, () => this.states.deleteEntity(clusterId, 'state'));
  }
}

/** A delete that treats "already gone" (404) as done: true when a row was removed. */
async function deleteRow(what: string, call: () => Promise<unknown>): Promise<boolean> {
  try {
    await storageCall(what, call);
    return true;
  } catch (error) {
    if (statusOf(error) === 404) return false;
    throw error;
  }
}
