/**
 * DynamoDB: upstream's extension, reshaped. db.system.name is `aws.dynamodb` (current semconv;
 * upstream writes `dynamodb`), the table goes to db.collection.name (upstream puts it in
 * db.namespace, which for DynamoDB has no meaning), and aws.dynamodb.item_collection_metrics
 * is dropped: its ItemCollectionKey holds a key value. Upstream records no item values, key
 * values or expression attribute values otherwise (no dynamoDBStatementSerializer is set).
 */
import type { ServiceExtension } from './types';

export function dynamodbExtension(upstream: ServiceExtension): ServiceExtension {
  return {
    requestPreSpanHook: (request, config, diag) => {
      const meta = upstream.requestPreSpanHook(request, config, diag);
      const attrs = { ...meta.spanAttributes };
      delete attrs['db.namespace'];
      attrs['db.system.name'] = 'aws.dynamodb';
      const table = request.commandInput?.TableName;
      if (typeof table === 'string') attrs['db.collection.name'] = table;
      return { ...meta, spanAttributes: attrs };
    },
    requestPostSpanHook: upstream.requestPostSpanHook?.bind(upstream),
    responseHook: (response, span, tracer, config, startTime) => {
      const data = response.data;
      if (!data || !('ItemCollectionMetrics' in data)) return upstream.responseHook?.(response, span, tracer, config, startTime);
      const { ItemCollectionMetrics: _dropped, ...rest } = data;
      return upstream.responseHook?.({ ...response, data: rest }, span, tracer, config, startTime);
    },
  };
}
