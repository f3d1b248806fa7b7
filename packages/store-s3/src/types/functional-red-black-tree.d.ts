// Types for the parts of functional-red-black-tree (a persistent red-black tree) store-s3 uses.
declare module 'functional-red-black-tree' {
  export interface RBIterator<K, V> {
    readonly valid: boolean;
    readonly key: K;
    readonly value: V;
    readonly tree: RBTree<K, V>;
    next(): void;
    prev(): void;
    hasNext: boolean;
    hasPrev: boolean;
    remove(): RBTree<K, V>;
    update(value: V): RBTree<K, V>;
  }
  export interface RBTree<K, V> {
    readonly length: number;
    readonly begin: RBIterator<K, V>;
    readonly end: RBIterator<K, V>;
    get(key: K): V | undefined;
    find(key: K): RBIterator<K, V>;
    insert(key: K, value: V): RBTree<K, V>;
    remove(key: K): RBTree<K, V>;
    ge(key: K): RBIterator<K, V>;
    gt(key: K): RBIterator<K, V>;
    le(key: K): RBIterator<K, V>;
    lt(key: K): RBIterator<K, V>;
  }
  export default function createRBTree<K, V>(compare?: (a: K, b: K) => number): RBTree<K, V>;
}
