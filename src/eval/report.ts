/**
 * The result of `facestream eval`: a flat, JSON-ready object (`--json`) and a human-readable table.
 * All fractions are in 0..1 (the table shows percentages); unavailable figures are null, with the
 * reason in a `*_reason` field.
 */
import type { SkippedEntry } from './dataset';
import type { DistanceKind, IdentificationResult, VerificationResult } from './metrics';

export interface ErrorRecord {
  readonly file: string;
  readonly code: string;
  readonly message: string;
}

export interface EvalReportInput {
  /** Image files attempted (gallery + probes + unknown + verification images, each counted once). */
  readonly images: number;
  /** Images decoded with a face chosen. */
  readonly facesFound: number;
  /** Images decoded but with no usable face. */
  readonly facesNotFound: number;
  /** Images that could not be read or decoded (ImageInputError records). */
  readonly errors: readonly ErrorRecord[];
  readonly counts?: { readonly gallery: number; readonly probes: number; readonly unknown: number };
  readonly identification: IdentificationResult | null;
  /** Verification over pairs whose two images both gave an embedding; `skippedPairs` did not. */
  readonly verification?: { readonly result: VerificationResult; readonly skippedPairs: number } | null;
  readonly elapsedSeconds: number;
  readonly detector: string;
  readonly embedder: string;
  readonly distance: DistanceKind;
  readonly skipped?: readonly SkippedEntry[];
  readonly notes?: readonly string[];
}

export interface OpenSetRow {
  readonly target_fpir: number;
  readonly threshold: number;
  readonly fpir_achieved: number;
  readonly false_alarms: number;
  readonly fnir: number;
  readonly misses: number;
  readonly note?: string;
}

export interface EvalReport {
  readonly detector: string;
  readonly embedder: string;
  readonly distance: DistanceKind;
  readonly images: number;
  readonly faces_found: number;
  readonly faces_not_found: number;
  readonly errors: ErrorRecord[];
  readonly gallery_images: number | null;
  readonly probe_images: number | null;
  readonly unknown_images: number | null;
  readonly rank1: number | null;
  readonly rank1_correct: number | null;
  readonly probes_evaluated: number | null;
  readonly probes_without_gallery: number | null;
  readonly rank1_reason?: string;
  readonly fnir_at_fpir_1pct: number | null;
  readonly fpir_achieved: number | null;
  readonly threshold_at_fpir_1pct: number | null;
  readonly unknown_probes_evaluated: number | null;
  readonly fpir_resolution: number | null;
  readonly open_set: OpenSetRow[] | null;
  readonly open_set_reason?: string;
  readonly verification_accuracy: number | null;
  readonly verification_std: number | null;
  readonly verification_standard_error: number | null;
  readonly verification_threshold: number | null;
  readonly verification_folds: number | null;
  readonly verification_pairs: number | null;
  readonly verification_pairs_skipped: number | null;
  readonly throughput_images_per_s: number | null;
  readonly elapsed_s: number;
  readonly skipped_files: SkippedEntry[];
  readonly notes: string[];
}

export function buildEvalReport(input: EvalReportInput): EvalReport {
  const id = input.identification;
  const r1 = id?.rank1;
  const os = id?.openSet;
  const p1 = os?.points?.find((p) => Math.abs(p.targetFpir - 0.01) < 1e-12) ?? null;
  const v = input.verification?.result ?? null;
  const openSetReason = id === null ? 'identification was not run' : os?.points ? (p1 ? undefined : 'FPIR 1% was not among the targets') : os?.reason;
  return {
    detector: input.detector,
    embedder: input.embedder,
    distance: input.distance,
    images: input.images,
    faces_found: input.facesFound,
    faces_not_found: input.facesNotFound,
    errors: input.errors.map((e) => ({ file: e.file, code: e.code, message: e.message })),
    gallery_images: input.counts?.gallery ?? null,
    probe_images: input.counts?.probes ?? null,
    unknown_images: input.counts?.unknown ?? null,
    rank1: r1?.rank1 ?? null,
    rank1_correct: r1 ? r1.correct : null,
    probes_evaluated: r1 ? r1.probes : null,
    probes_without_gallery: r1 ? r1.probesWithoutGallery : null,
    ...(id === null ? { rank1_reason: 'identification was not run' } : r1?.reason ? { rank1_reason: r1.reason } : {}),
    fnir_at_fpir_1pct: p1?.fnir ?? null,
    fpir_achieved: p1?.fpirAchieved ?? null,
    threshold_at_fpir_1pct: p1?.threshold ?? null,
    unknown_probes_evaluated: os ? os.unknownProbes : null,
    fpir_resolution: os?.fpirResolution ?? null,
    open_set: os?.points
      ? os.points.map((p) => ({
          target_fpir: p.targetFpir,
          threshold: p.threshold,
          fpir_achieved: p.fpirAchieved,
          false_alarms: p.falseAlarms,
          fnir: p.fnir,
          misses: p.misses,
          ...(p.note ? { note: p.note } : {}),
        }))
      : null,
    ...(openSetReason ? { open_set_reason: openSetReason } : {}),
    verification_accuracy: v?.accuracy ?? null,
    verification_std: v?.std ?? null,
    verification_standard_error: v?.standardError ?? null,
    verification_threshold: v?.threshold ?? null,
    verification_folds: v ? v.folds.length : null,
    verification_pairs: v ? v.pairs : null,
    verification_pairs_skipped: input.verification ? input.verification.skippedPairs : null,
    throughput_images_per_s: input.elapsedSeconds > 0 ? input.images / input.elapsedSeconds : null,
    elapsed_s: input.elapsedSeconds,
    skipped_files: [...(input.skipped ?? [])],
    notes: [...(input.notes ?? [])],
  };
}

const pct = (x: number | null, digits = 1): string => (x === null ? 'n/a' : `${(x * 100).toFixed(digits)}%`);
const num = (x: number | null, digits = 4): string => (x === null ? 'n/a' : x.toFixed(digits));

/** A plain-text table of the report (for stderr, or stdout without --json). */
export function formatEvalReport(r: EvalReport, options: { maxErrors?: number } = {}): string {
  const maxErrors = options.maxErrors ?? 20;
  const rows: [string, string][] = [];
  rows.push(['detector / embedder', `${r.detector} / ${r.embedder} (${r.distance} distance)`]);
  rows.push(['images', `${r.images} (face found ${r.faces_found}, no face ${r.faces_not_found}, unreadable ${r.errors.length})`]);
  if (r.gallery_images !== null) rows.push(['gallery / probes / unknown', `${r.gallery_images} / ${r.probe_images} / ${r.unknown_images} images`]);
  rows.push(['rank-1 (closed set)', r.rank1 === null
    ? `n/a${r.rank1_reason ? ` (${r.rank1_reason})` : ''}`
    : `${pct(r.rank1)} (${r.rank1_correct}/${r.probes_evaluated} probes${r.probes_without_gallery ? `; ${r.probes_without_gallery} of an identity with no gallery face, counted as errors` : ''})`]);
  if (r.open_set) {
    for (const p of r.open_set) {
      rows.push([`FNIR @ FPIR ${+(p.target_fpir * 100).toPrecision(3)}%`,
        `${pct(p.fnir)} (threshold ${num(p.threshold)}, achieved FPIR ${pct(p.fpir_achieved, 2)} = ${p.false_alarms}/${r.unknown_probes_evaluated})`]);
    }
    if (r.fpir_resolution !== null) rows.push(['FPIR resolution', `${pct(r.fpir_resolution, 2)} (1/${r.unknown_probes_evaluated} unknown probes)`]);
  } else {
    rows.push(['FNIR @ FPIR 1%', `n/a (${r.open_set_reason ?? 'not computed'})`]);
  }
  if (r.verification_accuracy !== null) {
    rows.push(['verification (LFW folds)', `${pct(r.verification_accuracy, 2)} ± ${pct(r.verification_std, 2)} (${r.verification_folds} folds, ${r.verification_pairs} pairs` +
      `${r.verification_pairs_skipped ? `, ${r.verification_pairs_skipped} skipped: no face` : ''}; mean threshold ${num(r.verification_threshold)})`]);
  }
  rows.push(['throughput', r.throughput_images_per_s === null ? 'n/a' : `${r.throughput_images_per_s.toFixed(2)} images/s (${r.elapsed_s.toFixed(1)} s)`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  const notes = r.open_set?.filter((p) => p.note).map((p) => p.note!) ?? [];
  for (const n of [...r.notes, ...notes]) lines.push(`note: ${n}`);
  if (r.errors.length > 0) {
    lines.push(`errors (${r.errors.length}):`);
    for (const e of r.errors.slice(0, maxErrors)) lines.push(`  [${e.code}] ${e.message}`);
    if (r.errors.length > maxErrors) lines.push(`  ... and ${r.errors.length - maxErrors} more (see --json)`);
  }
  if (r.skipped_files.length > 0) {
    lines.push(`skipped (${r.skipped_files.length} entries that are not images):`);
    for (const s of r.skipped_files.slice(0, maxErrors)) lines.push(`  ${s.file}: ${s.reason}`);
    if (r.skipped_files.length > maxErrors) lines.push(`  ... and ${r.skipped_files.length - maxErrors} more`);
  }
  return lines.join('\n') + '\n';
}
