import { paths } from '../../shared/contracts/routes';

/** The JSON answer of one request to the control plane. */
export interface ApiAnswer {
  status: number;
  json: unknown;
  text: string;
}

/** An operation record as `GET …/operations/{operationId}` returns it (the fields the bench reads). */
export interface OperationView {
  operationId: string;
  kind: string;
  status: string;
  createdAt: number;
  updatedAt: number;
  endedAt?: number;
  epoch: number;
  toEpoch?: number;
  rtoMs?: number;
  reason?: string;
  targetNodeId?: string | null;
  trigger?: { kind: string; reference?: string };
  evidence: Record<string, unknown>;
  steps?: { id: string; name: string; startedAt: number; endedAt?: number; outcome: string }[];
}

export interface AuditEntryView {
  at: number;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

/** A node as `GET …/status` returns it (the fields the bench reads). */
export interface NodeStatusView {
  nodeId: string;
  reportedRole?: string | null;
  lastHeartbeatAgeMs?: number | null;
}

export interface ClusterStatusView {
  epoch: number;
  activeNodeId: string | null;
  nodes: NodeStatusView[];
  runningOperations?: unknown[];
}

/** The control plane's public HTTP API, as an operator or the portal calls it (admin and function keys). */
export class ControlPlaneApi {
  constructor(
    readonly baseUrl: string,
    private readonly adminKey: string,
    readonly functionKey: string,
  ) {}

  async call(method: string, path: string, body?: unknown, key = this.adminKey): Promise<ApiAnswer> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        'x-functions-key': key,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let json: unknown = undefined;
    try {
      json = text.length > 0 ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, json, text };
  }

  /** Like `call`, but an answer other than `expected` is an error naming the request and the answer. */
  async expect(
    expected: number,
    method: string,
    path: string,
    body?: unknown,
    key?: string,
  ): Promise<unknown> {
    const answer = await this.call(method, path, body, key);
    if (answer.status !== expected)
      throw new Error(
        `${method} ${path}: expected ${expected}, got ${answer.status}: ${answer.text.slice(0, 500)}`,
      );
    return answer.json;
  }

  declare(document: { id: string } & Record<string, unknown>): Promise<unknown> {
    return this.expect(201, 'PUT', paths.cluster(document.id), document);
  }

  /** Issues a node key: base64, as the operator stores it in the agent's key file. */
  async issueKey(clusterId: string, nodeId: string): Promise<string> {
    const json = (await this.expect(201, 'POST', paths.nodeKey(clusterId, nodeId))) as { key: string };
    return json.key;
  }

  async status(clusterId: string): Promise<ClusterStatusView> {
    return (await this.expect(200, 'GET', paths.clusterStatus(clusterId))) as ClusterStatusView;
  }

  /** The newest operations first (one page of up to `limit`). */
  async operations(clusterId: string, limit = 20): Promise<OperationView[]> {
    const json = (await this.expect(200, 'GET', `${paths.operations(clusterId)}?limit=${limit}`)) as {
      operations: OperationView[];
    };
    return json.operations;
  }

  async operation(clusterId: string, operationId: string): Promise<OperationView> {
    const json = (await this.expect(200, 'GET', paths.operation(clusterId, operationId))) as {
      operation: OperationView;
    };
    return json.operation;
  }

  /** The newest audit entries first (one page of up to `limit`). */
  async audit(clusterId: string, limit = 100): Promise<AuditEntryView[]> {
    const json = (await this.expect(200, 'GET', `${paths.audit(clusterId)}?limit=${limit}`)) as {
      entries: AuditEntryView[];
    };
    return json.entries;
  }
}
