import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  fillRoute,
  matchArbitrationStatusPath,
  paths,
  ROUTE_PREFIX,
  routes,
} from '../../../shared/contracts/routes';

const root = path.resolve(__dirname, '../../..');

describe('routes and paths', () => {
  it('builds the URL paths clients send from the route templates', () => {
    expect(paths.health()).toBe('/api/health');
    expect(paths.clusters()).toBe('/api/v1/clusters');
    expect(paths.cluster('bcm-head')).toBe('/api/v1/clusters/bcm-head');
    expect(paths.clusterStatus('bcm-head')).toBe('/api/v1/clusters/bcm-head/status');
    expect(paths.nodeKey('bcm-head', 'head-a')).toBe('/api/v1/clusters/bcm-head/nodes/head-a/key');
    expect(paths.witnessBreak('bcm-head')).toBe('/api/v1/clusters/bcm-head/witness/break');
    expect(paths.agentHeartbeat()).toBe('/api/v1/agent/heartbeat');
    expect(paths.agentArbitrate()).toBe('/api/v1/agent/arbitrate');
    expect(paths.agentArbitrationStatus('bcm-head', 3)).toBe('/api/v1/agent/arbitration/bcm-head/3');
    expect(paths.agentAck()).toBe('/api/v1/agent/ack');
  });

  it('has a path builder for every route', () => {
    expect(Object.keys(paths).sort()).toEqual(Object.keys(routes).sort());
  });

  it('uses the route prefix of host.json', () => {
    const hostJson = JSON.parse(readFileSync(path.join(root, 'host.json'), 'utf8')) as {
      extensions: { http: { routePrefix: string } };
    };
    expect(hostJson.extensions.http.routePrefix).toBe(ROUTE_PREFIX);
  });

  it('refuses parameters that would need escaping or leave the route', () => {
    expect(() => paths.cluster('../admin')).toThrow(RangeError);
    expect(() => paths.nodeKey('bcm-head', 'Head A')).toThrow(/nodeId must be/);
    expect(() => paths.agentArbitrationStatus('bcm-head', -1)).toThrow(/epoch/);
    expect(() => paths.agentArbitrationStatus('bcm-head', 1.5)).toThrow(/epoch/);
    expect(() => fillRoute(routes.cluster)).toThrow(/clusterId/);
  });

  it('every function registers its route from the contract', () => {
    const dir = path.join(root, 'functions/http');
    const literal = /route:\s*['"`]/;
    for (const file of [
      'agentAck.ts',
      'agentArbitrate.ts',
      'agentHeartbeat.ts',
      'clusters.ts',
      'health.ts',
      'nodeAdmin.ts',
    ]) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      expect({ file, literal: literal.test(text) }).toEqual({ file, literal: false });
      expect(text).toMatch(/route: routes\.\w+/);
    }
  });

  it('reads an arbitration status path, with or without a prefix before /api', () => {
    expect(matchArbitrationStatusPath('/api/v1/agent/arbitration/bcm-head/3')).toEqual({
      clusterId: 'bcm-head',
      epoch: 3,
    });
    expect(matchArbitrationStatusPath('/prefix/api/v1/agent/arbitration/bcm-head/2147483647')).toEqual({
      clusterId: 'bcm-head',
      epoch: 2147483647,
    });
    for (const bad of [
      '/api/v1/agent/arbitration/bcm-head/0',
      '/api/v1/agent/arbitration/bcm-head/2147483648',
      '/api/v1/agent/arbitration/Bcm/1',
      '/api/v1/agent/arbitration/bcm-head/1/x',
      '/api/v1/agent/arbitration/a--b/1',
      '/api/v1/clusters/bcm-head',
      '/steal',
    ])
      expect(matchArbitrationStatusPath(bad)).toBeUndefined();
  });
});
