"""Service limits, in one place, each with its reference. Checked 2026-11 against the AWS docs.

Sinks and the metric aggregation read these names; nothing else hard-codes a limit.
"""

# CloudWatch PutMetricData
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
PUT_METRIC_DATA_MAX_DATUMS = 1000  # "up to 1000 different metrics" per request
PUT_METRIC_DATA_MAX_BYTES = 1_000_000  # 1 MB request payload
PUT_METRIC_DATA_MAX_VALUES = 150  # Values / Counts arrays: up to 150 entries each
PUT_METRIC_DATA_MAX_DIMENSIONS = 30  # dimensions per metric
PUT_METRIC_DATA_MAX_AGE_S = 14 * 24 * 3600  # timestamps up to two weeks in the past
PUT_METRIC_DATA_MAX_FUTURE_S = 2 * 3600  # and up to two hours in the future
PUT_METRIC_DATA_VALUE_MAX = 2.0**360  # "Values must be in the range of -2^360 to 2^360"; no NaN/inf
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html
METRIC_NAME_MAX_CHARS = 255
DIMENSION_NAME_MAX_CHARS = 255
DIMENSION_VALUE_MAX_CHARS = 1024  # ASCII, at least one non-whitespace character

# Embedded Metric Format
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
EMF_MAX_METRICS = 100  # metric definitions per document
EMF_MAX_VALUES = 100  # values per metric array
EMF_MAX_DIMENSIONS = 30  # dimensions per dimension set

# Kinesis Data Streams PutRecords
# https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html
KINESIS_MAX_RECORDS = 500
KINESIS_MAX_RECORD_BYTES = 1024 * 1024  # data blob + partition key
KINESIS_MAX_REQUEST_BYTES = 10 * 1024 * 1024
KINESIS_MAX_PARTITION_KEY = 256  # unicode characters

# Amazon Data Firehose PutRecordBatch
# https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html
FIREHOSE_MAX_RECORDS = 500
FIREHOSE_MAX_RECORD_BYTES = 1000 * 1024  # 1,000 KiB before base64
FIREHOSE_MAX_REQUEST_BYTES = 4 * 1024 * 1024

# Firehose data transformation: Lambda response payload
# https://docs.aws.amazon.com/firehose/latest/dev/data-transformation.html
FIREHOSE_TRANSFORM_MAX_RESPONSE_BYTES = 6 * 1024 * 1024

# Amazon SQS SendMessage / SendMessageBatch (the dead-letter queue)
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
SQS_MAX_MESSAGE_BYTES = 256 * 1024  # per message and per batch (a queue may allow more; 256 KiB always works)
SQS_MAX_BATCH_ENTRIES = 10

# Lambda asynchronous invocation
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
LAMBDA_ASYNC_MAX_PAYLOAD_BYTES = 1024 * 1024
# Lambda synchronous invocation (the Firehose transformation): request and response payload
LAMBDA_SYNC_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024

# Prices (USD, us-east-1), for the record-format comparison in `make bench`; checked 2026-11.
# Kinesis Data Streams on-demand: "$0.08 per GB" of data ingested, "each record rounded up to the
# nearest 1 KB"  https://aws.amazon.com/kinesis/data-streams/pricing/
KINESIS_ON_DEMAND_USD_PER_GB_INGESTED = 0.08
KINESIS_ON_DEMAND_BILLING_UNIT_BYTES = 1024
# Amazon Data Firehose Direct PUT: "$0.029 per GB" for the first 500 TB/month, "each record
# rounded up to the nearest 5KB"  https://aws.amazon.com/firehose/pricing/
FIREHOSE_USD_PER_GB_INGESTED = 0.029
FIREHOSE_BILLING_UNIT_BYTES = 5 * 1024
