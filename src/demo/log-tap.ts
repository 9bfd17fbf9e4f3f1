/**
 * The demo watches the embedded runtime through its own structured log: the runtime's logger is a pino
 * multistream writing JSON lines to <dir>/facestream.log and to this tap, which keeps what the demo prints and
 * summarises (camera online/offline times, every track's match decisions, errors). Nothing secret reaches the log
 * (URLs are masked and embeddings redacted by the runtime), so nothing secret reaches the tap.
 */
import pino from 'pino';
import { REDACT_PATHS, type Logger } from '../util/log';

export interface TrackRecord {
  trackId: string;
  /** Log time (ms) of its first match decision. */
  firstAt: number;
  decisions: number;
  /** Identities the track was accepted as, at any of its decisions (an alert fires on the first). */
  accepted: string[];
  /** Best (smallest) distance to the candidate seen, and that candidate. */
  candidate?: string;
  distance?: number;
  /** Reason of the latest decision ("accepted", "distance-too-large", ...). */
  reason?: string;
}

export interface TapState {
  onlineAt?: number;
  offlineAt?: number;
  tracks: Map<string, TrackRecord>;
  /** Messages of error-level lines. */
  errors: string[];
}

/** Feeds one JSON log line into the state (pure; unparsable lines are ignored). */
export function tapLine(state: TapState, line: string): { event?: 'online' | 'offline' | 'error'; message?: string } {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return {};
  }
  const time = typeof rec.time === 'number' ? rec.time : Date.now();
  const msg = String(rec.msg ?? '');
  if (msg === 'camera online') {
    state.onlineAt ??= time;
    return { event: 'online' };
  }
  if (msg === 'camera offline') {
    state.offlineAt = time;
    return { event: 'offline', message: String(rec.message ?? rec.err ?? rec.reason ?? '') };
  }
  if (msg === 'track matched' && typeof rec.trackId === 'string') {
    let t = state.tracks.get(rec.trackId);
    if (!t) state.tracks.set(rec.trackId, (t = { trackId: rec.trackId, firstAt: time, decisions: 0, accepted: [] }));
    t.decisions += 1;
    t.reason = String(rec.reason ?? '');
    if (rec.accepted === true && typeof rec.candidate === 'string' && !t.accepted.includes(rec.candidate)) t.accepted.push(rec.candidate);
    if (typeof rec.distance === 'number' && typeof rec.candidate === 'string' && (t.distance === undefined || rec.distance < t.distance)) {
      t.distance = rec.distance;
      t.candidate = rec.candidate;
    }
    return {};
  }
  if (typeof rec.level === 'number' && rec.level >= 50) {
    const message = `${msg}${rec.err ? `: ${String(rec.err)}` : ''}`;
    state.errors.push(message);
    return { event: 'error', message };
  }
  return {};
}

/** A debug-level logger writing JSON lines to `file` and into `state`; `onEvent` hears online/offline/errors. */
export function tapLogger(file: string, state: TapState, onEvent: (e: 'online' | 'offline' | 'error', message?: string) => void): Logger {
  const tap = {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (!line) continue;
        const r = tapLine(state, line);
        if (r.event) onEvent(r.event, r.message);
      }
    },
  };
  return pino(
    { name: 'facestream', level: 'debug', redact: { paths: REDACT_PATHS, censor: '***' }, base: { pid: process.pid } },
    pino.multistream([
      { level: 'debug', stream: pino.destination({ dest: file, sync: true, mkdir: true }) },
      { level: 'debug', stream: tap },
    ]),
  );
}
