import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { acceptCommandAck } from '../../shared/control/agents/commandAcks';
import { commandAckBodySchema, type CommandAckAnswer } from '../../shared/contracts/agentApi';
import { routes } from '../../shared/contracts/routes';
import type { Services } from '../../shared/services/services';
import { Events, InstanceIds } from '../../orchestrations/contracts';
import { withServices } from '../common/withServices';
import { isRunning, raiseEvent, readStatus } from '../durable/singleton';
import { withErrorPolicy } from './httpResponses';
import { readSignedBody } from './agentHttp';
import { refusalToHttp } from './refusalToHttp';

/**
 * POST /api/v1/agent/ack (signed): the agent acknowledges a command it ran, with its outcome and hook steps.
 * Recorded once per (cluster, node, command id); then raised as the event `ack` to the cluster's operation
 * (`cluster-<id>`) if one is running — a re-sent duplicate is raised again (the operation keeps the first that
 * counts), so an acknowledgement recorded by a call whose event could not be raised (503) still arrives. Answers
 * 200 `{ recorded: true, delivered, duplicate? }`; 401 bad signature, 409 replayed sequence or an epoch ahead of
 * the cluster's, 422 invalid body.
 */
export async function agentAckHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const signed = await readSignedBody(request, services, commandAckBodySchema, 'command acknowledgement');
  if (!signed.ok) return signed.response;
  const accepted = await acceptCommandAck(services, signed.verified, signed.value);
  if (!accepted.ok) return refusalToHttp(accepted);
  const client = df.getClient(invocation);
  const instanceId = InstanceIds.clusterOperation(signed.verified.clusterId);
  const delivered = isRunning(await readStatus(client, instanceId));
  if (delivered) await raiseEvent(client, instanceId, Events.commandAck, accepted.event);
  const answer: CommandAckAnswer = {
    recorded: true,
    delivered,
    ...(accepted.duplicate ? { duplicate: true } : {}),
  };
  return { status: 200, jsonBody: answer };
}

app.http(FunctionNames.agentAck, {
  route: routes.agentAck,
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(withServices(agentAckHandler)),
});
