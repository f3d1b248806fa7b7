/**
 * Every benchmark section, in run order. Each area adds its own module here.
 *
 * @module
 */
import { aggregate } from './aggregate.js';
import { consoleSection } from './console.js';
import { core } from './core.js';
import type { BenchSection } from './figure.js';
import { group } from './group.js';
import { iceberg } from './iceberg.js';
import { projections } from './projections.js';
import { s3 } from './s3.js';
import { s3Faults } from './s3-faults.js';
import { soakSection } from './soak.js';
import { schema } from './schema.js';
import { server } from './server.js';
import { tenancy } from './tenancy.js';
import { workflow } from './workflow.js';

/** All sections. */
export const sections: BenchSection[] = [core, schema, aggregate, projections, s3, tenancy, workflow, iceberg, group, server, s3Faults, soakSection, consoleSection];
