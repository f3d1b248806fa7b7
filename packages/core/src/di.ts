/**
 * `@strand/core/di`: the tsyringe composition root (injection tokens for every extension point,
 * and functions that assemble log and tenant-manager options from a container). Core classes never
 * import it: they take their parts through constructor options. `tsyringe` and `reflect-metadata`
 * are optional peer dependencies of `@strand/core`; an app that uses this entry installs both and
 * imports `reflect-metadata` once, before tsyringe, as tsyringe requires.
 * Design: docs/design/0008-tenancy.md, "Plugins".
 *
 * @packageDocumentation
 */
export { logOptionsFrom, StrandTokens, tenantManagerOptionsFrom } from './plugins/container.js';
