/**
 * A consumer-group member process for the `group` bench section: joins the group served at the
 * socket given, waits `delayMs` per delivery (an I/O-like handler) and acks.
 * Usage: `node group-member.js <socket> <group> <delayMs> <credits>`; prints READY once joined.
 *
 * @module
 */
import { connectGroup } from '@strand/projections';

const [path, group, delay, credits] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4]), Number(process.argv[5])];
const member = await connectGroup({ path }, group, () => new Promise<void>((resolve) => setTimeout(resolve, delay)), { credits });
process.stdout.write(`READY ${member.id}\n`);
await member.closed;
