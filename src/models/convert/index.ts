/** Model converters: TF.js weights → ONNX (face-api's face recognition ResNet), and the small ONNX writer they use. */
export {
  convertFaceApiRecognition,
  writeFaceApiRecognitionOnnx,
  FACEAPI_RECOGNITION_MODEL_NAME,
  FACEAPI_INPUT_SIZE,
  FACEAPI_EMBEDDING_SIZE,
  FACEAPI_INPUT_NAME,
  FACEAPI_OUTPUT_NAME,
  FACEAPI_CONVERTER_VERSION,
} from './faceapi-recognition';
export { readTfjsWeights } from './tfjs-weights';
export type { NamedTensor, WeightMap } from './tfjs-weights';
export { OnnxGraphBuilder, OnnxDataType } from './onnx-proto';
export type { OnnxAttribute, OnnxDim, OnnxModelOptions } from './onnx-proto';
