import type { CloudConfig } from '../config/cloudConfig';
import { AzureComputeProvider } from './azure/azureComputeProvider';
import { createAzureCredential } from './azure/azureCredential';
import type { ComputeProvider, SiteRef } from './computeProvider';
import { createOciAuthProvider } from './oci/ociAuth';
import { OciComputeProvider } from './oci/ociComputeProvider';
import { ProviderError } from './providerError';

/**
 * The compute provider for a site, built on first use from the configuration: one Azure provider per process (it
 * meters the ARM budget per subscription and region inside), one OCI provider per region (OCI endpoints are
 * regional). A cloud without configuration fails with a clear, non-retryable error.
 */
export class ProviderRegistry {
  #azure: AzureComputeProvider | undefined;
  readonly #oci = new Map<string, OciComputeProvider>();

  constructor(
    private readonly cloud: CloudConfig,
    private readonly now: () => number = Date.now,
  ) {}

  forSite(site: SiteRef): ComputeProvider {
    if (site.cloud === 'azure') return this.azure();
    return this.oci(site.region);
  }

  azure(): AzureComputeProvider {
    const config = this.cloud.azure;
    if (!config)
      throw new ProviderError(
        'fatal',
        'Azure is not configured: set AZURE_SUBSCRIPTION_ID (and AZURE_CREDENTIAL)',
      );
    this.#azure ??= new AzureComputeProvider({
      credential: createAzureCredential(config.credential),
      subscriptionId: config.subscriptionId,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      now: this.now,
    });
    return this.#azure;
  }

  oci(region: string): OciComputeProvider {
    const config = this.cloud.oci;
    if (!config)
      throw new ProviderError(
        'fatal',
        'Oracle Cloud is not configured: set OCI_TENANCY_OCID and its companions',
      );
    let provider = this.#oci.get(region);
    if (!provider) {
      const endpoint = config.endpointTemplate?.replace('{region}', region);
      provider = new OciComputeProvider({
        authProvider: createOciAuthProvider({
          tenancy: config.tenancy,
          user: config.user,
          fingerprint: config.fingerprint,
          region,
          ...(config.privateKey ? { privateKey: config.privateKey } : {}),
          ...(config.privateKeyPath ? { privateKeyPath: config.privateKeyPath } : {}),
        }),
        region,
        compartmentId: config.compartmentId,
        ...(endpoint ? { endpoints: { compute: endpoint, limits: endpoint } } : {}),
        now: this.now,
      });
      this.#oci.set(region, provider);
    }
    return provider;
  }
}
