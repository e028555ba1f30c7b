export { DTYPE_BYTES, decodeToF32, float32ToBFloat16, type SafetensorsDType } from "./dtypes";
export { DEFAULT_CHUNK_ELEMENTS, numel, type RawTensorData, SafetensorsFile } from "./file";
export { SafetensorsError, type TensorEntry } from "./header";
export { openSafetensors, SafetensorsSet, type StoredTensor } from "./sharded";
export { MappedWeightSource, type TensorRef } from "./source";
export {
  encodeF32,
  SafetensorsWriter,
  type TensorSpec,
  type TensorToWrite,
  writeSafetensors,
} from "./writer";
