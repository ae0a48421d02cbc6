// The tools' own ceiling, shown in --help. Measured on the project's reference machine
// (2-core Xeon VM, Node 26.10) against bench/lib/sink.ts, a fake broker that answers
// CONNACK/SUBACK and forwards publishes without parsing them, running on the same 2 cores.
// Re-measure when the client's hot path changes:
//   node bench/lib/sink.ts --port 18840 &
//   node bench/loadtest/index.ts --port 18840 --conns 2 --messages 2000000
//   node bench/loadtest/index.ts --port 18840 --conns 100 --messages 20000
//   node bench/pingtest/index.ts --port 18840
//   node bench/many/index.ts --port 18840 --clients 15000 --wait 0 --duration 5 --pace 1000
export const CEILING_LOADTEST =
  'against a do-nothing forwarding broker on a 2-core VM, 1.0-2.2M delivered msgs/s (median\n' +
  '~1.7M, 16-byte payloads, --conns 2 or 100). The tool spends ~0.25 us of CPU per message\n' +
  'sent and received (~4M msgs/s per core): a broker measured near 1M msgs/s on 2 cores\n' +
  'is near what such a machine can show, since broker and tool share the cores.';

export const CEILING_PINGTEST =
  'a round trip cannot be batched, so each message costs one write and one read: ~7 us of\n' +
  'CPU per message (~140k msgs/s per core). Against a do-nothing broker (Node, one thread)\n' +
  'on a 2-core VM: 57-77k msgs/s with the defaults, p50 1.6-3.1 ms.';

export const CEILING_MANY =
  'against a do-nothing broker on a 2-core VM, 4.3-6.0k connections/s (15k clients,\n' +
  '--wait 0, 2 threads); ~180 us of CPU per connection opened and closed (mostly kernel)\n' +
  'and ~8-10 KB of tool memory per held connection (~1 GB per 100k).';
