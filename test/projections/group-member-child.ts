// A consumer-group member process for group-processes.int.test.ts: joins the group served on the
// socket given, handles each delivery like an I/O call (a timer), and commits one effect event per
// handled event together with its ack (exactly once). Prints one line per delivery it starts.
import { connectGroup } from '@strand/projections';

const [path, label] = [process.argv[2]!, process.argv[3]!];
const member = await connectGroup(
  { path },
  'work',
  async (d) => {
    process.stdout.write(`GOT ${d.stream} ${d.events[0]!.version}\n`);
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
    return { appends: [{ stream: `out/${d.stream.slice(2)}`, events: d.events.map((e) => ({ type: 'Done', data: { v: e.version, by: label } })) }] };
  },
  { credits: 8 },
);
process.stdout.write(`READY ${member.id}\n`);
await member.closed;
