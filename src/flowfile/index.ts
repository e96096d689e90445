export { FlowFileError, isFlowFileError, formatIssue, type FlowFileIssue, type FlowFileProblem } from './flow-file-error.js';
export { loadFlowFile, type LoadFlowFileOptions, type LoadedFlowFile } from './load-flow-file.js';
export { checkStepModule, isModulePath } from './step-module.js';
