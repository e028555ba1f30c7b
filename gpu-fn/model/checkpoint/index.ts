export { type ModelIndex, parseWith, readJson, type SchedulerConfig, schedulerConfigSchema } from "./configs";
export { comfyTransformerRefs, isComfyTransformer, isLdmVae, ldmVaeRefs, textEncoderRefs } from "./layouts";
export {
  type Checkpoint,
  type ComponentCheckpoint,
  type OpenCheckpointOptions,
  openCheckpoint,
} from "./open";
export { checkShapes } from "./shapes";
