/** Large-gallery search for the matcher: exact (onnxruntime GEMM) and approximate (USearch HNSW) indexes, and the candidate path. */
export type { GalleryIndex, SearchHits } from './types';
export { ExactIndex, type ExactIndexOptions } from './exact-index';
export { AnnIndex, DEFAULT_ANN, type AnnParams, type AnnQuantization, type AnnBuildOptions } from './ann-index';
export { CandidateMatcher, embeddingRows, type CandidateSource, type CandidateMatcherOptions, type EmbeddingRows } from './candidates';
export { topKScoringModel, plainProductModel } from './exact-graph';
