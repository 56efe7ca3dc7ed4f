from rest_framework import serializers


class ForecastFieldsSerializer(serializers.Serializer):
    average_daily_demand = serializers.FloatField()
    forecast_daily_demand = serializers.FloatField()
    demand_std = serializers.FloatField()
    method = serializers.ChoiceField(choices=["none", "moving_average", "croston_sba"])
    days_until_stockout = serializers.FloatField(allow_null=True)
    recommended_order_quantity = serializers.IntegerField()
    safety_stock = serializers.FloatField()
    confidence = serializers.FloatField()
    lookback_days = serializers.IntegerField()
    zero_day_share = serializers.FloatField()


class ItemForecastSerializer(ForecastFieldsSerializer):
    warehouse_id = serializers.IntegerField()
    available_quantity = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    source = serializers.ChoiceField(choices=["stored", "live"])


class ProductForecastSerializer(ForecastFieldsSerializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    warehouse_id = serializers.IntegerField(allow_null=True)
    computed_at = serializers.DateTimeField(allow_null=True)
    source = serializers.ChoiceField(choices=["stored", "live"])
    items = ItemForecastSerializer(many=True)
