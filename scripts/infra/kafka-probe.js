// Readiness probe for scripts/kafka.sh: asks the broker for cluster metadata with kafkajs (the client facestream
// uses), so "ready" means what a client sees, not only that the port accepts connections.
// Usage: node scripts/infra/kafka-probe.js 127.0.0.1:PORT [timeoutMs]   exit 0 = ready, 1 = not ready, 2 = no kafkajs
'use strict';
const path = require('node:path');

let kafkajs;
try {
  kafkajs = require(require.resolve('kafkajs', { paths: [path.resolve(__dirname, '..', '..')] }));
} catch {
  process.exit(2);
}
const broker = process.argv[2];
const timeoutMs = Number(process.argv[3] ?? 10000);
if (!broker || !/^127\.0\.0\.1:\d+$/.test(broker)) {
  console.error(`kafka-probe: expected a 127.0.0.1:PORT bootstrap address, got ${JSON.stringify(broker)}`);
  process.exit(1);
}
const kafka = new kafkajs.Kafka({
  clientId: 'facestream-kafka-probe',
  brokers: [broker],
  connectionTimeout: 1000,
  requestTimeout: 3000,
  retry: { retries: 0 },
  logLevel: kafkajs.logLevel.NOTHING,
});

async function main() {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      await admin.disconnect();
      if (cluster.brokers.length > 0 && cluster.controller !== null && cluster.controller !== undefined) {
        process.stdout.write(`ready: ${cluster.brokers.length} broker(s), controller ${cluster.controller}, cluster ${cluster.clusterId}\n`);
        return 0;
      }
      last = new Error(`metadata has ${cluster.brokers.length} broker(s) and controller ${cluster.controller}`);
    } catch (err) {
      last = err;
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.error(`kafka-probe: ${broker} not ready after ${timeoutMs} ms: ${last && last.message}`);
  return 1;
}
main().then((code) => process.exit(code), (err) => { console.error(err); process.exit(1); });
