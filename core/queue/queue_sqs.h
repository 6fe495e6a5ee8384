/* The SQS queue: jobs are S3 event / SNS / plain-job messages. A message
 * that carries several records becomes several jobs and is deleted when all
 * of them are done; a transient failure makes the whole message visible
 * again after the backoff; a malformed message is left for the queue's
 * redrive policy (DLQ) with a growing visibility timeout. */
#ifndef DOCMILL_QUEUE_SQS_H
#define DOCMILL_QUEUE_SQS_H

#include "queue/queue.h"

typedef struct queue_sqs_options {
    int wait_seconds;     /* long poll, 0..20 */
    int max_messages;     /* per ReceiveMessage, 1..10 */
} queue_sqs_options;

queue *queue_sqs_open(const char *queue_url, const queue_sqs_options *opt, dm_err *err);

#endif
