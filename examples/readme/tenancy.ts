/**
 * README snippet "Tenants, access control, quotas and plugins".
 *
 * The region below is the README's code block, character for character (test/docs/readme-snippets
 * checks it; `npm run readme` copies the regions into the README). What is outside the region
 * gives it the context the README's text gives it.
 */
// Self-contained: the tenant manager opens its own store.

// #region readme
import { TenantManager } from '@strand/core/tenancy';        // needs prom-client installed
import { ClassicLevel } from 'classic-level';

const tenants = await TenantManager.open({ store: new ClassicLevel('./data', { keyEncoding: 'view', valueEncoding: 'view' }) });
await tenants.createTenant('acme', { quotas: { streams: 100_000, appendEventsPerSecond: 5_000 } });  // one metadata write
const { apiKey } = await tenants.createPrincipal('acme', (['read', 'append', 'subscribe'] as const).map((permission) => ({ permission, pattern: 'orders/>' })));

const client = tenants.authenticate(apiKey);               // every call checks the grants
await client.append('orders/eu/o-1', [{ type: 'OrderPlaced', data: { total: 42 } }]);
await tenants.usage('acme');                                // metered events, bytes, streams, storage
await tenants.metrics();                                    // Prometheus text format
// #endregion readme
