/**
 * `strand serve` (the log as a network service, docs/design/0013-server.md) and `strand bench`.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { type Cli, openWaiting } from '../context.js';
import { ExitCode, output } from '../output.js';
import { type ServeOptions, serve } from '../serve.js';

/** Registers `strand serve` and `strand bench`. */
export function registerServeCommands(program: Command, cli: Cli): void {
  program
    .command('serve')
    .description('serve the log over the network (gRPC, gRPC-Web, Connect JSON, SSE tail) until SIGTERM')
    .option('--port <n>', 'TCP port', '7070')
    .option('--host <addr>', 'interface to listen on', '127.0.0.1')
    .option('--api-key <key>', 'the API key clients send (env STRAND_API_KEY); generated and printed when absent')
    .option('--admin-key <key>', 'the admin credential for /metrics (env STRAND_ADMIN_KEY); generated when absent')
    .option('--tenants', 'serve the tenant registry at --path: keys are its principals\' keys', false)
    .option('--demo', 'seed an empty log with a small shop domain and keep appending orders (to try the console)', false)
    .option('--tls-cert <file>', 'PEM certificate: serve TLS (HTTP/2 and HTTP/1.1)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--projections <module>', 'host the projections this JavaScript module exports: clients see status and parked streams, retry, skip, rebuild and waitFor them')
    .option('--max-request-bytes <n>', 'largest request body (default 4 MiB)')
    .option('--max-events-per-append <n>', 'most events in one append (default 10000)')
    .option('--max-streams-per-connection <n>', 'most subscriptions on one connection (default 1000)')
    .option('--max-connections-per-tenant <n>', 'most connections a tenant uses at once (default 1000)')
    .option('--request-timeout <ms>', 'deadline of a call (default 30000)')
    .option('--heartbeat <ms>', 'subscription heartbeat interval (default 15000)')
    .option('--stall-timeout <ms>', 'end a subscriber that holds events back this long (default 30000)')
    .option('--group-session-timeout <ms>', 'consumer groups the server hosts: expire a member after this long without a heartbeat (default 10000)')
    .option('--group-max-attempts <n>', 'consumer groups the server hosts: deliveries of an event before its stream parks (default 5)')
    .option('--group-backoff <ms>', 'consumer groups the server hosts: first retry delay after a nack (default 100)')
    .addHelpText(
      'after',
      `
Examples:
  strand serve --path ./data                     prints the URL and a generated API key
  STRAND_API_KEY=... strand serve --port 7070    a key of your choosing
  strand serve --tenants --path ./tenants        multi-tenant: principals' keys and grants
  strand serve --demo --path ./demo              a seeded demo log; open the console at <url>/ui/
  strand serve --tls-cert cert.pem --tls-key key.pem

Then: curl -s localhost:7070/strand.v1.EventStoreService/Append -H 'content-type: application/json' \\
        -H "authorization: Bearer $KEY" -d '{"stream":"orders/o-1","events":[{"type":"Placed","data":"{}"}]}'`,
    )
    .action(async (opts: ServeOptions) => {
      const { path, json } = cli.globals();
      await serve(path, () => openWaiting(path, Number(cli.globals().lockTimeout), false), opts, json);
    });

  program
    .command('bench')
    .description('run the benchmark (npm run bench) and print its table')
    .allowUnknownOption(true)
    .argument('[args...]', 'passed to the benchmark, e.g. --only core --scale 0.1 --json out.json')
    .action(async (args: string[]) => {
      const script = fileURLToPath(new URL('../../../../test/dist/bench/main.js', import.meta.url));
      if (!existsSync(script)) output(cli.globals().json).fail(ExitCode.notFound, 'STRAND_NOT_FOUND', `The benchmark is not built (${script}). Run npm run build first.`);
      const child = spawn(process.execPath, ['--expose-gc', script, ...args], { stdio: 'inherit' });
      process.exitCode = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
    });
}
