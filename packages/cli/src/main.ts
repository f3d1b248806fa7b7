#!/usr/bin/env node
/**
 * `strand`: the command-line tool. Short verbs, `--help` with examples on every command, a table
 * for people by default and `--json` for scripts, exit codes scripts can trust (see `exitCodeOf`),
 * colours and progress bars only on a TTY.
 *
 * @module
 */
import { isStrandError } from '@strand/core';
import { Command, Option } from 'commander';
import { registerExportCommands } from './commands/export.js';
import { registerGroupCommands } from './commands/groups.js';
import { registerLogCommands } from './commands/log.js';
import { registerProjectionCommands } from './commands/projections.js';
import { registerServeCommands } from './commands/serve.js';
import { registerStoreCommands } from './commands/store.js';
import { registerTenantCommands } from './commands/tenants.js';
import { cliContext } from './context.js';
import { exitCodeOf, ExitCode, output } from './output.js';

// A closed pipe (`strand verify | head -1`) ends the command quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

const program = new Command('strand')
  .description('Strand: per-entity event streams on an LSM tree.')
  .version('0.1.0')
  .addOption(new Option('-p, --path <dir|url>', 'log directory (LevelDB), or s3://bucket/prefix/?endpoint=... (S3)').env('STRAND_PATH').default('./data'))
  .option('--json', 'machine-readable JSON output', false)
  .option('--lock-timeout <ms>', 'wait this long for a log another process holds', '3000')
  .addOption(new Option('--server <url>', 'talk to a running strand serve instead of a local log (API key in STRAND_API_KEY); append, read, tail, streams, info and projections').env('STRAND_SERVER'))
  .addHelpText(
    'after',
    `
Examples:
  strand info                         what is in ./data
  strand streams orders/eu            browse the hierarchy
  strand read orders/eu/order-42      read one stream
  strand tail 'orders/>'              follow new events live
  strand append orders/eu/order-42 --type OrderPlaced --data '{"total":42}' --expect 0

Exit codes: 0 ok, 1 usage or invalid input, 2 conflict (expected version), 3 not found,
4 data problem (verify failed, corruption), 5 unavailable (locked, storage), 70 internal error.`,
  );

// One module per command group (commands/), in the order `strand --help` lists them.
const cli = cliContext(program);
registerLogCommands(program, cli);
registerStoreCommands(program, cli);
registerExportCommands(program, cli);
registerProjectionCommands(program, cli);
registerGroupCommands(program, cli);
registerTenantCommands(program, cli);
registerServeCommands(program, cli);

program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (error) {
  const code = (error as { code?: string }).code;
  if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') process.exit(0);
  if (typeof code === 'string' && code.startsWith('commander.')) process.exit(ExitCode.usage);
  const out = output(cli.globals().json);
  if (isStrandError(error)) out.fail(exitCodeOf(error), error.code, error.message);
  out.fail(ExitCode.internal, 'STRAND_INTERNAL', String((error as Error)?.stack ?? error));
}
