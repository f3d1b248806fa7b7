/**
 * The bank scenario `npm start` runs, returning the lines it prints.
 *
 * @module
 */
import { AggregateRepository } from '@strand/aggregate';
import { type EventLog, isStrandError, type Logger, type RecordedEvent } from '@strand/core';
import { BehaviorSubject, filter, firstValueFrom, tap } from 'rxjs';
import { Account } from './account.js';
import { transfer } from './transfer.js';

/** Runs the scenario on an open log and describes what happened. */
export async function runBank(log: EventLog, logger?: Logger): Promise<string[]> {
  const out: string[] = [];
  const startPosition = log.position;
  const run = Date.now().toString(36);
  out.push(`Strand example bank: log at position ${startPosition}, run ${run}`);

  // Inline projection: balances are written in the same atomic batch as the events, so a
  // successful append means the read model is already up to date (read-your-writes for free).
  const balances = log.sublevel('rm-balances');
  const removeInline = log.addCommitHook({
    name: 'balances',
    async onCommit(events, tx) {
      for (const e of events) {
        if (!e.stream.startsWith('accounts/')) continue;
        const row = ((await tx.get(balances, e.stream)) as { balance: number } | undefined) ?? { balance: 0 };
        const delta = e.type === 'Credited' ? (e.data as { amount: number }).amount : e.type === 'Debited' ? -(e.data as { amount: number }).amount : 0;
        tx.put(balances, e.stream, { balance: row.balance + delta });
      }
    },
  });

  // Asynchronous projection through a subscription: money credited per branch. `progress`
  // tracks the last position it has seen, so a writer can wait for it (read-your-writes).
  const perBranch = new Map<string, number>();
  const progress = new BehaviorSubject(startPosition);
  const subscription = log
    .subscribe('>', { from: startPosition + 1 })
    .pipe(
      tap((e: RecordedEvent) => queueMicrotask(() => progress.next(e.position))),
      filter((e) => e.type === 'Credited' && e.stream.startsWith('accounts/')),
    )
    .subscribe((e) => {
      const branch = e.stream.split('/')[1]!;
      perBranch.set(branch, (perBranch.get(branch) ?? 0) + (e.data as { amount: number }).amount);
    });

  const accounts = new AggregateRepository(log, Account, { snapshots: { every: 20 }, retention: { mode: 'truncate', keepLast: 5 }, ...(logger ? { logger } : {}) });
  const ids = { alice: `eu/${run}-alice`, bob: `eu/${run}-bob`, chen: `asia/${run}-chen` };
  let commands = 0;
  const handle = async (id: string, command: Parameters<typeof accounts.handle>[1]) => {
    commands++;
    return accounts.handle(id, command, { commandId: `${run}-${commands}` });
  };
  await handle(ids.alice, { type: 'Open', data: { owner: 'Alice' } });
  await handle(ids.bob, { type: 'Open', data: { owner: 'Bob' } });
  await handle(ids.chen, { type: 'Open', data: { owner: 'Chen' } });
  await handle(ids.alice, { type: 'Deposit', data: { amount: 1_000 } });
  for (let i = 0; i < 60; i++) await handle(ids.bob, { type: 'Deposit', data: { amount: 10 } });
  out.push(`Opened 3 accounts and made ${commands - 3} deposits through the command handler.`);

  // A business rule the aggregate refuses: nothing is written.
  try {
    await handle(ids.chen, { type: 'Withdraw', data: { amount: 5 } });
  } catch (error) {
    if (!isStrandError(error, 'STRAND_DOMAIN_REJECTED')) throw error;
    out.push(`Refused: Chen withdraws 5 -> ${(error as { reason?: string }).reason} (nothing written)`);
  }

  // Idempotency: the same command id again returns the original result.
  const again = await accounts.handle(ids.alice, { type: 'Deposit', data: { amount: 1_000 } }, { commandId: `${run}-4` });
  out.push(`Re-sent command ${run}-4: idempotent=${again.idempotent}, version ${again.version} (nothing written)`);

  // Transfers: two streams, one atomic commit each; concurrent ones retry on conflicts.
  const transfers = await Promise.all([
    transfer(log, accounts, ids.alice, ids.chen, 300, `${run}-t1`),
    transfer(log, accounts, ids.alice, ids.bob, 200, `${run}-t2`),
    transfer(log, accounts, ids.bob, ids.chen, 150, `${run}-t3`),
  ]);
  out.push(`3 concurrent transfers committed atomically (${transfers.reduce((n, t) => n + t.retries, 0)} conflict retries).`);
  try {
    await transfer(log, accounts, ids.chen, ids.alice, 10_000, `${run}-t4`);
  } catch (error) {
    if (!isStrandError(error, 'STRAND_DOMAIN_REJECTED')) throw error;
    out.push(`Refused: transfer of 10000 from Chen -> ${(error as { reason?: string }).reason} (neither account changed)`);
  }

  // Read-your-writes on the async projection: wait until it has processed the log's head.
  const head = log.position;
  await firstValueFrom(progress.pipe(filter((p) => p >= head)));

  out.push('', 'Balances (inline read model, written atomically with the events):');
  for (const [name, id] of Object.entries(ids)) {
    const row = (await balances.get(Account.streamOf(id))) as { balance: number } | undefined;
    const state = (await accounts.load(id)).state;
    out.push(`  ${name.padEnd(6)} ${String(row?.balance ?? 0).padStart(6)}   (aggregate state: ${state.balance})`);
  }
  out.push('', 'Money credited per branch (asynchronous projection over accounts/>):');
  for (const [branch, total] of [...perBranch].sort()) out.push(`  ${branch.padEnd(6)} ${String(total).padStart(6)}`);

  await accounts.flush();
  const bobInfo = await log.streamInfo(Account.streamOf(ids.bob));
  const bobLoad = await accounts.load(ids.bob);
  out.push(
    '',
    `Snapshots: ${accounts.stats.snapshotsWritten} written; Bob's stream is at version ${bobInfo?.version}, ` +
      `history before version ${bobInfo?.truncatedBefore} truncated (${accounts.stats.eventsTruncated} events removed); ` +
      `loading Bob replayed ${bobLoad.replayed} events on top of the snapshot at version ${bobLoad.snapshotVersion}.`,
  );
  out.push(`Log: ${log.position - startPosition} events appended this run, head position ${log.position}.`);

  subscription.unsubscribe();
  removeInline();
  await accounts.close();
  return out;
}
