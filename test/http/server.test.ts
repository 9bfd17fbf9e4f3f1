import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { ReadinessReport, startHttpServer } from '../../src/http/server';
import { createMetrics, forgetCamera, observeStage, registerCamera } from '../../src/metrics/registry';

const CAMERA_URL = 'rtsp://admin:CamPassw0rd@10.1.2.3:554/Streaming/Channels/101';

describe('metrics registry', () => {
  it('exposes every metric by name, labelled by camera name only', async () => {
    const m = createMetrics();
    registerCamera(m, 'front-door');
    m.framesTotal.inc({ camera: 'front-door' }, 25);
    m.framesDroppedTotal.inc({ camera: 'front-door' });
    m.facesDetectedTotal.inc({ camera: 'front-door' }, 3);
    m.tracksStartedTotal.inc({ camera: 'front-door' });
    m.embeddingsTotal.inc(2);
    m.matchesTotal.inc({ result: 'match' });
    m.alertsTotal.inc({ outcome: 'raised' });
    m.webhookDeliveriesTotal.inc({ outcome: 'delivered' });
    m.spoolPending.set(4);
    m.cameraUp.set({ camera: 'front-door' }, 1);
    m.cameraReconnectsTotal.inc({ camera: 'front-door' });
    for (const stage of ['decode', 'detect', 'align', 'embed', 'match'] as const) m.stageSeconds.observe({ stage }, 0.004);
    observeStage(m, 'detect', process.hrtime.bigint());
    m.frameToAlertSeconds.observe(0.7);
    m.galleryVersion.set(12);

    const text = await m.registry.metrics();
    for (const name of [
      'facestream_frames_total{camera="front-door"} 25',
      'facestream_frames_dropped_total{camera="front-door"} 1',
      'facestream_faces_detected_total{camera="front-door"} 3',
      'facestream_tracks_started_total{camera="front-door"} 1',
      'facestream_embeddings_total 2',
      'facestream_matches_total{result="match"} 1',
      'facestream_matches_total{result="unknown"} 0',
      'facestream_alerts_total{outcome="raised"} 1',
      'facestream_webhook_deliveries_total{outcome="delivered"} 1',
      'facestream_spool_pending 4',
      'facestream_camera_up{camera="front-door"} 1',
      'facestream_camera_reconnects_total{camera="front-door"} 1',
      'facestream_stage_duration_seconds_bucket{le="0.005",stage="decode"} 1',
      'facestream_stage_duration_seconds_count{stage="detect"} 2',
      'facestream_frame_to_alert_seconds_count 1',
      'facestream_gallery_version 12',
      'facestream_process_cpu_seconds_total',
      'facestream_nodejs_eventloop_lag_seconds',
    ]) {
      assert.ok(text.includes(name), `missing ${name}`);
    }
    assert.ok(!text.includes('://'), 'a URL in the metrics output');
    assert.ok(!text.includes('CamPassw0rd'));

    forgetCamera(m, 'front-door');
    assert.ok(!(await m.registry.metrics()).includes('front-door'));
  });

  it('keeps registries independent', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.embeddingsTotal.inc(5);
    assert.ok((await b.registry.metrics()).includes('facestream_embeddings_total 0'));
  });
});

describe('metrics/health HTTP server', () => {
  it('serves /metrics, /healthz and /readyz without secrets', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.framesTotal.inc({ camera: 'lobby' }, 7);
    let report: ReadinessReport = {
      ready: false,
      checks: {
        cameras: { ok: false, detail: `0/1 cameras up (last error from ${CAMERA_URL}: timeout)` },
        gallery: { ok: true },
      },
    };
    const srv = await startHttpServer({ port: 0, host: '127.0.0.1', registry: m.registry, readiness: () => report });
    try {
      assert.match(srv.address, /^http:\/\/127\.0\.0\.1:\d+$/);
      const metrics = await fetch(`${srv.address}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.ok((await metrics.text()).includes('facestream_frames_total{camera="lobby"} 7'));

      const health = await fetch(`${srv.address}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });

      const notReady = await fetch(`${srv.address}/readyz`);
      assert.equal(notReady.status, 503);
      const body = await notReady.text();
      assert.ok(!body.includes('CamPassw0rd'), 'readiness leaked a camera password');
      const parsed = JSON.parse(body) as ReadinessReport;
      assert.equal(parsed.ready, false);
      assert.equal(parsed.checks.cameras.ok, false);
      assert.ok(parsed.checks.cameras.detail?.includes('rtsp://***@10.1.2.3:554/'));

      report = { ready: true, checks: { cameras: { ok: true, detail: '1/1 cameras up' } } };
      const ready = await fetch(`${srv.address}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), report);

      assert.equal((await fetch(`${srv.address}/nope`)).status, 404);
    } finally {
      await srv.close();
    }
  });

  it('answers 503 when the readiness callback throws, and ready without a callback', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const srv = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      registry: m.registry,
      readiness: () => {
        throw new Error(`cannot reach ${CAMERA_URL}`);
      },
    });
    try {
      const res = await fetch(`${srv.address}/readyz`);
      assert.equal(res.status, 503);
      const text = await res.text();
      assert.ok(!text.includes('CamPassw0rd'));
      assert.equal((JSON.parse(text) as ReadinessReport).ready, false);
    } finally {
      await srv.close();
    }
    const plain = await startHttpServer({ port: 0, host: '127.0.0.1', registry: m.registry });
    try {
      assert.equal((await fetch(`${plain.address}/readyz`)).status, 200);
    } finally {
      await plain.close();
    }
  });

  it('reports a port in use clearly', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        startHttpServer({ port, host: '127.0.0.1', registry: createMetrics({ defaultMetrics: false }).registry }),
        new RegExp(`cannot start the metrics/health server on 127.0.0.1:${port}: the address is in use`),
      );
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
