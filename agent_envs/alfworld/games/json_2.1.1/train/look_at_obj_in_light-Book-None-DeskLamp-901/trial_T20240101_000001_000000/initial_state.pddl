(define (problem plan_trial_T20240101_000001_000000)
(:domain alfred)
(:objects
agent1 - agent
loc_bar_0_bar_0_bar_0_bar_0 - location
loc_bar_2_bar_0_bar_0_bar_30 - location
loc_bar_1_bar_0_bar_0_bar_30 - location
loc_bar_8_bar_0_bar_0_bar_30 - location
loc_bar_7_bar_0_bar_0_bar_30 - location
loc_bar_3_bar_0_bar_0_bar_30 - location
loc_bar_4_bar_0_bar_0_bar_30 - location
loc_bar_5_bar_0_bar_0_bar_30 - location
loc_bar_6_bar_0_bar_0_bar_30 - location
Cabinet_bar__plus_02_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 - receptacle
CounterTop_bar__plus_01_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 - receptacle
Desk_bar__plus_08_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 - receptacle
DiningTable_bar__plus_07_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 - receptacle
Drawer_bar__plus_03_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 - receptacle
Fridge_bar__plus_04_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 - receptacle
Microwave_bar__plus_05_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 - receptacle
Sink_bar__plus_06_dot_00_bar__plus_00_dot_90_bar__plus_00_dot_50_bar_SinkBasin - receptacle
Apple_bar__plus_01_dot_10_bar__plus_00_dot_95_bar__plus_00_dot_50 - object
Mug_bar__plus_02_dot_10_bar__plus_00_dot_45_bar__plus_00_dot_50 - object
Plate_bar__plus_07_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50 - object
Book_bar__plus_07_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50 - object
CellPhone_bar__plus_08_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50 - object
CD_bar__plus_03_dot_10_bar__plus_00_dot_75_bar__plus_00_dot_50 - object
CD_bar__plus_08_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50 - object
Potato_bar__plus_04_dot_10_bar__plus_00_dot_20_bar__plus_00_dot_50 - object
DeskLamp_bar__plus_08_dot_30_bar__plus_00_dot_80_bar__plus_00_dot_50 - object
AppleType - otype
BookType - otype
ButterKnifeType - otype
CDType - otype
CellPhoneType - otype
DeskLampType - otype
KnifeType - otype
MugType - otype
PlateType - otype
PotatoType - otype
CabinetType - rtype
CounterTopType - rtype
DeskType - rtype
DiningTableType - rtype
DrawerType - rtype
FridgeType - rtype
MicrowaveType - rtype
SinkBasinType - rtype
)
(:init
(atLocation agent1 loc_bar_0_bar_0_bar_0_bar_0)
(receptacleType Cabinet_bar__plus_02_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 CabinetType)
(receptacleAtLocation Cabinet_bar__plus_02_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 loc_bar_2_bar_0_bar_0_bar_30)
(openable Cabinet_bar__plus_02_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(canContain CabinetType AppleType)
(canContain CabinetType BookType)
(canContain CabinetType CDType)
(canContain CabinetType CellPhoneType)
(canContain CabinetType MugType)
(canContain CabinetType PlateType)
(canContain CabinetType PotatoType)
(receptacleType CounterTop_bar__plus_01_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 CounterTopType)
(receptacleAtLocation CounterTop_bar__plus_01_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 loc_bar_1_bar_0_bar_0_bar_30)
(canContain CounterTopType AppleType)
(canContain CounterTopType BookType)
(canContain CounterTopType CDType)
(canContain CounterTopType CellPhoneType)
(canContain CounterTopType MugType)
(canContain CounterTopType PlateType)
(canContain CounterTopType PotatoType)
(receptacleType Desk_bar__plus_08_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 DeskType)
(receptacleAtLocation Desk_bar__plus_08_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 loc_bar_8_bar_0_bar_0_bar_30)
(canContain DeskType AppleType)
(canContain DeskType BookType)
(canContain DeskType CDType)
(canContain DeskType CellPhoneType)
(canContain DeskType MugType)
(canContain DeskType PlateType)
(canContain DeskType PotatoType)
(receptacleType DiningTable_bar__plus_07_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 DiningTableType)
(receptacleAtLocation DiningTable_bar__plus_07_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 loc_bar_7_bar_0_bar_0_bar_30)
(canContain DiningTableType AppleType)
(canContain DiningTableType BookType)
(canContain DiningTableType CDType)
(canContain DiningTableType CellPhoneType)
(canContain DiningTableType MugType)
(canContain DiningTableType PlateType)
(canContain DiningTableType PotatoType)
(receptacleType Drawer_bar__plus_03_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 DrawerType)
(receptacleAtLocation Drawer_bar__plus_03_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 loc_bar_3_bar_0_bar_0_bar_30)
(openable Drawer_bar__plus_03_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(canContain DrawerType AppleType)
(canContain DrawerType BookType)
(canContain DrawerType CDType)
(canContain DrawerType CellPhoneType)
(canContain DrawerType MugType)
(canContain DrawerType PlateType)
(canContain DrawerType PotatoType)
(receptacleType Fridge_bar__plus_04_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 FridgeType)
(receptacleAtLocation Fridge_bar__plus_04_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 loc_bar_4_bar_0_bar_0_bar_30)
(openable Fridge_bar__plus_04_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(canContain FridgeType AppleType)
(canContain FridgeType BookType)
(canContain FridgeType CDType)
(canContain FridgeType CellPhoneType)
(canContain FridgeType MugType)
(canContain FridgeType PlateType)
(canContain FridgeType PotatoType)
(receptacleType Microwave_bar__plus_05_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 MicrowaveType)
(receptacleAtLocation Microwave_bar__plus_05_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50 loc_bar_5_bar_0_bar_0_bar_30)
(openable Microwave_bar__plus_05_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(canContain MicrowaveType AppleType)
(canContain MicrowaveType BookType)
(canContain MicrowaveType CDType)
(canContain MicrowaveType CellPhoneType)
(canContain MicrowaveType MugType)
(canContain MicrowaveType PlateType)
(canContain MicrowaveType PotatoType)
(receptacleType Sink_bar__plus_06_dot_00_bar__plus_00_dot_90_bar__plus_00_dot_50_bar_SinkBasin SinkBasinType)
(receptacleAtLocation Sink_bar__plus_06_dot_00_bar__plus_00_dot_90_bar__plus_00_dot_50_bar_SinkBasin loc_bar_6_bar_0_bar_0_bar_30)
(canContain SinkBasinType AppleType)
(canContain SinkBasinType BookType)
(canContain SinkBasinType CDType)
(canContain SinkBasinType CellPhoneType)
(canContain SinkBasinType MugType)
(canContain SinkBasinType PlateType)
(canContain SinkBasinType PotatoType)
(objectType Apple_bar__plus_01_dot_10_bar__plus_00_dot_95_bar__plus_00_dot_50 AppleType)
(pickupable Apple_bar__plus_01_dot_10_bar__plus_00_dot_95_bar__plus_00_dot_50)
(inReceptacle Apple_bar__plus_01_dot_10_bar__plus_00_dot_95_bar__plus_00_dot_50 CounterTop_bar__plus_01_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(objectAtLocation Apple_bar__plus_01_dot_10_bar__plus_00_dot_95_bar__plus_00_dot_50 loc_bar_1_bar_0_bar_0_bar_30)
(heatable Apple_bar__plus_01_dot_10_bar__plus_00_dot_95_bar__plus_00_dot_50)
(coolable Apple_bar__plus_01_dot_10_bar__plus_00_dot_95_bar__plus_00_dot_50)
(objectType Mug_bar__plus_02_dot_10_bar__plus_00_dot_45_bar__plus_00_dot_50 MugType)
(pickupable Mug_bar__plus_02_dot_10_bar__plus_00_dot_45_bar__plus_00_dot_50)
(inReceptacle Mug_bar__plus_02_dot_10_bar__plus_00_dot_45_bar__plus_00_dot_50 Cabinet_bar__plus_02_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(objectAtLocation Mug_bar__plus_02_dot_10_bar__plus_00_dot_45_bar__plus_00_dot_50 loc_bar_2_bar_0_bar_0_bar_30)
(heatable Mug_bar__plus_02_dot_10_bar__plus_00_dot_45_bar__plus_00_dot_50)
(coolable Mug_bar__plus_02_dot_10_bar__plus_00_dot_45_bar__plus_00_dot_50)
(cleanable Mug_bar__plus_02_dot_10_bar__plus_00_dot_45_bar__plus_00_dot_50)
(objectType Plate_bar__plus_07_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50 PlateType)
(pickupable Plate_bar__plus_07_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50)
(inReceptacle Plate_bar__plus_07_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50 DiningTable_bar__plus_07_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(objectAtLocation Plate_bar__plus_07_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50 loc_bar_7_bar_0_bar_0_bar_30)
(cleanable Plate_bar__plus_07_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50)
(objectType Book_bar__plus_07_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50 BookType)
(pickupable Book_bar__plus_07_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50)
(inReceptacle Book_bar__plus_07_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50 DiningTable_bar__plus_07_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(objectAtLocation Book_bar__plus_07_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50 loc_bar_7_bar_0_bar_0_bar_30)
(objectType CellPhone_bar__plus_08_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50 CellPhoneType)
(pickupable CellPhone_bar__plus_08_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50)
(inReceptacle CellPhone_bar__plus_08_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50 Desk_bar__plus_08_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(objectAtLocation CellPhone_bar__plus_08_dot_10_bar__plus_00_dot_80_bar__plus_00_dot_50 loc_bar_8_bar_0_bar_0_bar_30)
(objectType CD_bar__plus_03_dot_10_bar__plus_00_dot_75_bar__plus_00_dot_50 CDType)
(pickupable CD_bar__plus_03_dot_10_bar__plus_00_dot_75_bar__plus_00_dot_50)
(inReceptacle CD_bar__plus_03_dot_10_bar__plus_00_dot_75_bar__plus_00_dot_50 Drawer_bar__plus_03_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(objectAtLocation CD_bar__plus_03_dot_10_bar__plus_00_dot_75_bar__plus_00_dot_50 loc_bar_3_bar_0_bar_0_bar_30)
(objectType CD_bar__plus_08_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50 CDType)
(pickupable CD_bar__plus_08_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50)
(inReceptacle CD_bar__plus_08_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50 Desk_bar__plus_08_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(objectAtLocation CD_bar__plus_08_dot_20_bar__plus_00_dot_80_bar__plus_00_dot_50 loc_bar_8_bar_0_bar_0_bar_30)
(objectType Potato_bar__plus_04_dot_10_bar__plus_00_dot_20_bar__plus_00_dot_50 PotatoType)
(pickupable Potato_bar__plus_04_dot_10_bar__plus_00_dot_20_bar__plus_00_dot_50)
(inReceptacle Potato_bar__plus_04_dot_10_bar__plus_00_dot_20_bar__plus_00_dot_50 Fridge_bar__plus_04_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(objectAtLocation Potato_bar__plus_04_dot_10_bar__plus_00_dot_20_bar__plus_00_dot_50 loc_bar_4_bar_0_bar_0_bar_30)
(heatable Potato_bar__plus_04_dot_10_bar__plus_00_dot_20_bar__plus_00_dot_50)
(coolable Potato_bar__plus_04_dot_10_bar__plus_00_dot_20_bar__plus_00_dot_50)
(objectType DeskLamp_bar__plus_08_dot_30_bar__plus_00_dot_80_bar__plus_00_dot_50 DeskLampType)
(toggleable DeskLamp_bar__plus_08_dot_30_bar__plus_00_dot_80_bar__plus_00_dot_50)
(inReceptacle DeskLamp_bar__plus_08_dot_30_bar__plus_00_dot_80_bar__plus_00_dot_50 Desk_bar__plus_08_dot_00_bar__plus_00_dot_50_bar__plus_00_dot_50)
(objectAtLocation DeskLamp_bar__plus_08_dot_30_bar__plus_00_dot_80_bar__plus_00_dot_50 loc_bar_8_bar_0_bar_0_bar_30)
)
(:goal
             (and
                 (exists (?ot - object
                          ?r - receptacle
                          ?a - agent
                          ?l - location)
                     (and
                         (objectType ?ot DeskLampType)
                         (toggleable ?ot)
                         (isToggled ?ot)
                         (receptacleAtLocation ?r ?l)
                         (atLocation ?a ?l)
                         (inReceptacle ?ot ?r)
                     )
                 )
                 (exists (?o - object
                          ?a - agent)
                     (and
                         (objectType ?o BookType)
                         (holds ?a ?o)
                     )
                 )
             )
        )
    )
