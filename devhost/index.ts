export { startDevhost, type Devhost, type DevhostOptions, type StorageChoice } from './startDevhost';
export { ManualClock, systemClock, type Clock } from './clock';
export { startAzurite, type RunningAzurite } from './storage/startAzurite';
export { loadFunctionsApp, AppLoadError } from './app/loadFunctionsApp';
