// Types of scripts/test-lanes.mjs (plain JavaScript: the runner starts before any build).
export type Lane = 'none' | 'private' | 'isolated' | 'exclusive';
export declare const NO_STACK_DIRS: string[];
export declare const ISOLATED: Set<string>;
export declare const PRIVATE: Set<string>;
export declare const WAITING: Set<string>;
export declare function takesSlot(file: string): boolean;
export declare function laneOf(file: string): Lane;
export declare function mayStartBeside(lane: Lane, activeLanes: Lane[]): boolean;
export declare const MULTI_NODE_DIR: string;
export declare const MULTI_NODE_STORE_NODES: string;
export declare function isMultiNode(file: string): boolean;
