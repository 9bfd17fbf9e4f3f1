/** Large-gallery search for the matcher: exact (onnxruntime GEMM) and approximate (HNSW) indexes, and the candidate path. */
export type { GalleryIndex, SearchHits } from './types';
export { ExactIndex, type ExactIndexOptions } from './exact-index';
export { HnswIndex, DEFAULT_HNSW, type HnswParams, type HnswBuildOptions } from './hnsw-index';
export { CandidateMatcher, embeddingRows, type CandidateSource, type CandidateMatcherOptions, type EmbeddingRows } from './candidates';
export { topKScoringModel, plainProductModel } from './exact-graph';
