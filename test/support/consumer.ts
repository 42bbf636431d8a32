// The consumer loop lives in src so the demo can use it too.
export {
  startConsumerLoop,
  type ConsumerReport,
  type ConsumerProbeOptions,
} from '../../src/sandbox/consumer-probe';
