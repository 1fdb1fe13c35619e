'use strict';
// host.json for a deployment. The repository's host.json is the local form (the Azure Storage backend on
// Azurite, as the devhost and CI run it); a deployment to Azure gets one of two forms, chosen by the azd
// environment's DURABLE_BACKEND (infra/main.bicep's durableBackend parameter):
// - 'scheduler': the Durable Task Scheduler (storageProvider azureManaged, its connection setting and the task hub
//   from TASKHUB_NAME; both set by infra/app/api.bicep);
// - 'storage': Azure Storage with identity-based AzureWebJobsStorage, polling its queues at most 10 s apart.
// Both export the host's telemetry through OpenTelemetry (Application Insights via APPLICATIONINSIGHTS_CONNECTION_STRING).

const BACKENDS = Object.freeze(['scheduler', 'storage']);

/** The connection setting and task hub setting the scheduler form names (infra/app/api.bicep sets both). */
const SCHEDULER_CONNECTION_SETTING = 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING';
const TASKHUB_SETTING = 'TASKHUB_NAME';
/** Storage backend: the longest wait between polls of an idle control queue. */
const STORAGE_MAX_QUEUE_POLLING_INTERVAL = '00:00:10';

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The host.json of a deployment with `backend` ('scheduler' | 'storage'), from the local host.json `base`. Pure:
 * `base` is not changed. Other durableTask options of the base (e.g. overridableExistingInstanceStates) are kept.
 */
function hostJsonFor(base, backend) {
  if (!BACKENDS.includes(backend)) {
    throw new RangeError(
      `unknown durable backend ${JSON.stringify(backend)} (expected ${BACKENDS.join(' or ')})`,
    );
  }
  if (!isObject(base) || base.version !== '2.0') {
    throw new TypeError('base must be a host.json object with version "2.0"');
  }
  const host = structuredClone(base);
  host.extensions = isObject(host.extensions) ? host.extensions : {};
  const durableTask = isObject(host.extensions.durableTask) ? host.extensions.durableTask : {};
  const { storageProvider: baseProvider, ...durableRest } = durableTask;
  if (backend === 'scheduler') {
    host.extensions.durableTask = {
      ...durableRest,
      hubName: `%${TASKHUB_SETTING}%`,
      storageProvider: { type: 'azureManaged', connectionStringName: SCHEDULER_CONNECTION_SETTING },
    };
  } else {
    const provider = isObject(baseProvider) ? baseProvider : {};
    host.extensions.durableTask = {
      ...durableRest,
      storageProvider: { ...provider, maxQueuePollingInterval: STORAGE_MAX_QUEUE_POLLING_INTERVAL },
    };
  }
  host.telemetryMode = 'OpenTelemetry';
  return host;
}

module.exports = {
  hostJsonFor,
  BACKENDS,
  SCHEDULER_CONNECTION_SETTING,
  TASKHUB_SETTING,
  STORAGE_MAX_QUEUE_POLLING_INTERVAL,
};
