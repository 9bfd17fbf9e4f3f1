/**
 * ffmpeg / ffprobe argument building for camera ingest. Pure functions (testable without ffmpeg).
 *
 * Output: raw BGR24 frames of a fixed, known size on stdout, at most `fps` per second. Option names are those of
 * Debian bookworm's ffmpeg 5.1: for RTSP `-timeout` is the socket I/O timeout in microseconds (`-stimeout` is gone),
 * `-fps_mode` replaces `-vsync`.
 */
import type { SourceKind } from './source-url';

export type RtspTransport = 'tcp' | 'udp';

const HEADER_ONLY_PROBE = ['-probesize', '32', '-analyzeduration', '0'];

export interface InputArgsOptions {
  readonly kind: SourceKind;
  /** RTP transport for RTSP sources. */
  readonly transport: RtspTransport;
  /** Read files at their native frame rate (-re), as a live camera would deliver them. */
  readonly realtime: boolean;
  /** Extra input options passed through verbatim before `-i`, e.g. ['-hwaccel', 'vaapi']. */
  readonly hwaccel?: readonly string[];
  /** Socket I/O timeout for network sources, in milliseconds (0 = none). */
  readonly ioTimeoutMs: number;
  /**
   * Skip ffmpeg's stream analysis (-probesize 32 -analyzeduration 0): set when a header-only probe already found
   * the size, i.e. the RTSP SDP carries the SPS. Cuts the time to the first frame from ~3 s to ~0.3 s.
   */
  readonly fastStart?: boolean;
}

export interface OutputArgsOptions {
  /** Analysis rate: at most this many frames per second reach stdout. */
  readonly fps: number;
  /** Output frame size (see analysisSize). */
  readonly width: number;
  readonly height: number;
}

export interface ProbedStream {
  readonly width: number;
  readonly height: number;
  /** Sample (pixel) aspect ratio, when the stream declares a non-square one. */
  readonly sar?: readonly [number, number];
  /** Display rotation in degrees from the container (phones); ffmpeg auto-rotates, so ±90 swaps the axes. */
  readonly rotation?: number;
}

/** Options that go before `-i`. Always starts with the global options, so the list never has a single element. */
export function ffmpegInputOptions(o: InputArgsOptions): string[] {
  const args = ['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'error'];
  args.push(...networkInputOptions(o));
  if (o.fastStart) args.push(...HEADER_ONLY_PROBE);
  if (o.kind === 'file' && o.realtime) args.push('-re');
  if (o.hwaccel) args.push(...o.hwaccel);
  return args;
}

/** Options that go after `-i`: first video stream only, frame selection, scaling, raw BGR24 on stdout. */
export function ffmpegOutputOptions(o: OutputArgsOptions): string[] {
  assertPositive('fps', o.fps);
  assertEvenSize(o.width, o.height);
  return [
    '-map', '0:v:0',
    '-an', '-sn', '-dn',
    '-vf', `${selectFilter(o.fps)},scale=${o.width}:${o.height}:flags=area`,
    // The select filter already decided which frames go out; passthrough stops ffmpeg from duplicating or
    // dropping frames to make a constant rate (after a network stall it would otherwise emit a burst of copies).
    '-fps_mode', 'passthrough',
    '-pix_fmt', 'bgr24',
    '-f', 'rawvideo',
  ];
}

/**
 * `select` expression keeping the first frame of every 1/fps-second slot of the stream clock. Unlike the `fps`
 * filter it never duplicates frames (a 5 fps analysis of a 3 fps camera gives 3 fps, a 10 s network gap gives a
 * gap, not 50 copies at once) and it does not stall when timestamps jump backwards (any change of slot selects).
 */
export function selectFilter(fps: number): string {
  assertPositive('fps', fps);
  const r = Number(fps.toPrecision(6));
  return `select='isnan(prev_selected_t)+not(eq(floor(t*${r}),floor(prev_selected_t*${r})))'`;
}

/**
 * ffprobe arguments reading the first video stream's size as JSON. `fast` probes from the stream headers only
 * (meant for RTSP, where the SPS in the SDP gives the size at once instead of after ~3 s of analysis); when that
 * yields no size the caller probes again without it.
 */
export function ffprobeArgs(input: string, o: InputArgsOptions, fast: boolean): string[] {
  return [
    '-v', 'error', '-hide_banner',
    ...networkInputOptions(o),
    ...(fast ? HEADER_ONLY_PROBE : []),
    '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height,sample_aspect_ratio:stream_side_data=rotation',
    '-of', 'json',
    input,
  ];
}

/** Parse ffprobe's JSON (from ffprobeArgs); throws when there is no video stream with a size. */
export function parseProbeJson(json: string): ProbedStream {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new Error('ffprobe printed no JSON');
  }
  const stream = (doc as { streams?: unknown[] }).streams?.[0] as
    | { width?: unknown; height?: unknown; sample_aspect_ratio?: unknown; side_data_list?: unknown[] }
    | undefined;
  if (!stream) throw new Error('the source has no video stream');
  const { width, height } = stream;
  if (typeof width !== 'number' || typeof height !== 'number' || width <= 0 || height <= 0) {
    throw new Error('the video stream has no size (yet)');
  }
  let sar: [number, number] | undefined;
  const m = typeof stream.sample_aspect_ratio === 'string' ? /^(\d+):(\d+)$/.exec(stream.sample_aspect_ratio) : null;
  if (m) {
    const n = Number(m[1]);
    const d = Number(m[2]);
    if (n > 0 && d > 0 && n !== d) sar = [n, d];
  }
  let rotation: number | undefined;
  for (const sd of stream.side_data_list ?? []) {
    const r = (sd as { rotation?: unknown }).rotation;
    if (typeof r === 'number') rotation = r;
  }
  return { width, height, ...(sar ? { sar } : {}), ...(rotation !== undefined ? { rotation } : {}) };
}

/**
 * The analysis frame size: display aspect kept (sample aspect and ±90° rotation applied), width at most
 * maxWidth, never upscaled, both dimensions even (what most scalers and encoders require), at least 2.
 */
export function analysisSize(stream: ProbedStream, maxWidth: number): { width: number; height: number } {
  assertPositive('maxWidth', maxWidth);
  let displayW = stream.width * (stream.sar ? stream.sar[0] / stream.sar[1] : 1);
  let displayH = stream.height;
  const quarterTurns = Math.round((stream.rotation ?? 0) / 90);
  if (Math.abs(quarterTurns) % 2 === 1) [displayW, displayH] = [displayH, displayW];
  const width = Math.max(2, evenFloor(Math.min(maxWidth, displayW)));
  const height = Math.max(2, Math.min(evenFloor(displayH), 2 * Math.round((width * displayH) / displayW / 2)));
  return { width, height };
}

function networkInputOptions(o: InputArgsOptions): string[] {
  const micros = String(Math.max(0, Math.round(o.ioTimeoutMs * 1000)));
  if (o.kind === 'rtsp') {
    return ['-rtsp_transport', o.transport, ...(o.ioTimeoutMs > 0 ? ['-timeout', micros] : [])];
  }
  if (o.kind === 'http') return o.ioTimeoutMs > 0 ? ['-rw_timeout', micros] : [];
  return [];
}

function evenFloor(x: number): number {
  return 2 * Math.floor(x / 2 + 1e-9);
}

function assertPositive(name: string, v: number): void {
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number, got ${v}`);
}

function assertEvenSize(width: number, height: number): void {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 2 || v % 2 !== 0) {
      throw new RangeError(`output ${name} must be an even integer >= 2, got ${v}`);
    }
  }
}
